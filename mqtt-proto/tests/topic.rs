//! Topic names, topic filters, matching and shared subscriptions (`mqtt_proto::topic`),
//! including the examples of MQTT 5.0 §4.7 / 3.1.1 §4.7.
//!
//! Note on numbering: 3.1.1 labels the wildcard rules [MQTT-4.7.1-1] (wildcards only in
//! filters), [MQTT-4.7.1-2] (`#`) and [MQTT-4.7.1-3] (`+`); 5.0 labels the same rules
//! [MQTT-4.7.0-1], [MQTT-4.7.1-1] and [MQTT-4.7.1-2].

mod common;

use common::*;
use mqtt_proto::topic::{
    SharedFilter, TopicError, matches, validate_topic_filter, validate_topic_name,
};
use proptest::prelude::*;

/// [MQTT-4.7.0-1] (3.1.1 [MQTT-4.7.1-1]) Wildcards appear in topic filters only, never in
/// topic names.
#[test]
fn mqtt_4_7_0_1_wildcards_only_in_filters() {
    for name in ["+", "#", "a/+", "a/#", "a+", "#a", "sport/tennis/+/x"] {
        assert_eq!(
            validate_topic_name(name),
            Err(TopicError::WildcardInName),
            "{name}"
        );
        assert_eq!(
            validate_topic_filter(name).is_ok(),
            !name.contains("a+") && !name.contains("#a")
        );
    }
    for name in [
        "a",
        "/",
        "a/b",
        "$SYS/broker",
        "sport/tennis/player1",
        "Accounts payable",
    ] {
        assert_eq!(validate_topic_name(name), Ok(()), "{name}");
        assert_eq!(validate_topic_filter(name), Ok(()), "{name}");
    }
}

/// [MQTT-4.7.1-1] (3.1.1 [MQTT-4.7.1-2]) `#` stands alone in its level and is the last
/// character of the filter (§4.7.1.2 examples).
#[test]
fn mqtt_4_7_1_1_multi_level_wildcard_placement() {
    for ok in ["#", "sport/#", "sport/tennis/#", "/#", "+/#", "$share/g/#"] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
    }
    for bad in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/",
        "#/a",
        "a/#b",
        "a/b#",
        "##",
        "$share/g/a/#/b",
    ] {
        assert_eq!(
            validate_topic_filter(bad),
            Err(TopicError::MisplacedWildcard),
            "{bad}"
        );
    }
}

/// [MQTT-4.7.1-2] (3.1.1 [MQTT-4.7.1-3]) `+` occupies a whole level (§4.7.1.3 examples).
#[test]
fn mqtt_4_7_1_2_single_level_wildcard_placement() {
    for ok in [
        "+",
        "+/tennis/#",
        "sport/+/player1",
        "/+",
        "+/+",
        "+/",
        "a/+/+/b",
    ] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
    }
    for bad in ["sport+", "+sport", "a/b+/c", "++", "a/+b", "$share/g/a+"] {
        assert_eq!(
            validate_topic_filter(bad),
            Err(TopicError::MisplacedWildcard),
            "{bad}"
        );
    }
}

/// [MQTT-4.7.3-1] Topic names and filters are at least one character long.
#[test]
fn mqtt_4_7_3_1_empty_topic_is_invalid() {
    assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
    assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
}

/// [MQTT-4.7.3-2] Topic names and filters hold no U+0000.
#[test]
fn mqtt_4_7_3_2_null_character_in_topic_is_invalid() {
    assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
    assert_eq!(validate_topic_name("\0"), Err(TopicError::NullCharacter));
    assert_eq!(
        validate_topic_filter("a/\0/#"),
        Err(TopicError::NullCharacter)
    );
}

/// [MQTT-4.7.3-3] Topic names and filters encode to at most 65,535 bytes.
#[test]
fn mqtt_4_7_3_3_topic_longer_than_65535_bytes_is_invalid() {
    let max = "a".repeat(65_535);
    let over = "a".repeat(65_536);
    assert_eq!(validate_topic_name(&max), Ok(()));
    assert_eq!(validate_topic_filter(&max), Ok(()));
    assert_eq!(validate_topic_name(&over), Err(TopicError::TooLong));
    assert_eq!(validate_topic_filter(&over), Err(TopicError::TooLong));
    // Bytes, not characters: 21,846 three-byte characters are 65,538 bytes.
    let wide = "\u{20AC}".repeat(21_846);
    assert_eq!(validate_topic_name(&wide), Err(TopicError::TooLong));
}

/// §4.7.1.2: `sport/tennis/player1/#` matches `sport/tennis/player1` and everything below;
/// `sport/#` matches `sport` itself.
#[test]
fn multi_level_wildcard_matching_examples() {
    let f = "sport/tennis/player1/#";
    for t in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert!(matches(f, t), "{f} ~ {t}");
    }
    assert!(!matches(f, "sport/tennis/player2"));
    assert!(!matches(f, "sport/tennis"));
    assert!(matches("sport/#", "sport"));
    assert!(matches("sport/#", "sport/"));
    assert!(matches("#", "sport/tennis"));
    assert!(matches("#", "/"));
}

/// §4.7.1.3: `+` matches exactly one level: `sport/tennis/+` matches `sport/tennis/player1`
/// but not `sport/tennis/player1/ranking`; `sport/+` matches `sport/` but not `sport`;
/// `+/+` and `/+` match `/finance`, `+` does not.
#[test]
fn single_level_wildcard_matching_examples() {
    assert!(matches("sport/tennis/+", "sport/tennis/player1"));
    assert!(matches("sport/tennis/+", "sport/tennis/player2"));
    assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(!matches("sport/+", "sport"));
    assert!(matches("sport/+", "sport/"));
    assert!(matches("+/+", "/finance"));
    assert!(matches("/+", "/finance"));
    assert!(!matches("+", "/finance"));
    assert!(matches("+", "finance"));
    assert!(matches("+/tennis/#", "sport/tennis/player1"));
}

/// [MQTT-4.7.2-1] §4.7.2: topics starting with `$` are not matched by filters starting with a
/// wildcard: `#` and `+/monitor/Clients` do not match `$SYS/monitor/Clients`, `$SYS/#` and
/// `$SYS/monitor/+` do.
#[test]
fn mqtt_4_7_2_1_dollar_topics_not_matched_by_leading_wildcards() {
    let t = "$SYS/monitor/Clients";
    assert!(!matches("#", t));
    assert!(!matches("+/monitor/Clients", t));
    assert!(!matches("+/#", t));
    assert!(matches("$SYS/#", t));
    assert!(matches("$SYS/monitor/+", t));
    assert!(matches("$SYS/monitor/Clients", t));
    // Only a leading `$` is special.
    assert!(matches("#", "a/$SYS"));
    assert!(matches("+/$x", "a/$x"));
}

/// Matching is exact and case-sensitive; empty levels are levels.
#[test]
fn matching_is_exact_and_case_sensitive() {
    assert!(matches("ACCOUNTS", "ACCOUNTS"));
    assert!(!matches("ACCOUNTS", "Accounts"));
    assert!(matches("Accounts payable", "Accounts payable"));
    assert!(!matches("a/b", "a/b/"));
    assert!(!matches("a/b/", "a/b"));
    assert!(matches("a//b", "a//b"));
    assert!(matches("a/+/b", "a//b"));
    assert!(!matches("/finance", "finance"));
}

/// [MQTT-4.8.2-1] [MQTT-4.8.2-2] `$share/<ShareName>/<filter>`: a non-empty ShareName with no
/// `/`, `+` or `#`, then `/` and a topic filter.
#[test]
fn mqtt_4_8_2_1_shared_subscription_parsing() {
    assert_eq!(
        SharedFilter::parse("$share/group/a/+"),
        Ok(Some(SharedFilter {
            group: "group",
            filter: "a/+"
        }))
    );
    assert_eq!(
        SharedFilter::parse("$share/g/#"),
        Ok(Some(SharedFilter {
            group: "g",
            filter: "#"
        }))
    );
    assert_eq!(
        SharedFilter::parse("$share/g//"),
        Ok(Some(SharedFilter {
            group: "g",
            filter: "/"
        }))
    );
    // Not shared at all.
    for plain in [
        "a/b",
        "$SYS/#",
        "$share",
        "$sharex/g/a",
        "share/g/a",
        "$SHARE/g/a",
    ] {
        assert_eq!(SharedFilter::parse(plain), Ok(None), "{plain}");
    }
    assert_eq!(validate_topic_filter("$share/group/a/+"), Ok(()));
    assert!(matches("$share/group/a/+", "a/b"));
    assert!(!matches("$share/group/a/+", "b/b"));
    assert!(!matches("$share/g/#", "$SYS/x"));
}

/// [MQTT-4.8.2-1] [MQTT-4.8.2-2] Invalid shared filters: empty ShareName (`$share//x`), no
/// filter (`$share/g`, `$share/g/`), a wildcard in the ShareName (`$share/g+/x`, `$share/#/x`).
#[test]
fn mqtt_4_8_2_2_invalid_shared_subscriptions() {
    for bad in [
        "$share//x",
        "$share/g",
        "$share/g/",
        "$share/g+/x",
        "$share/+/x",
        "$share/#/x",
        "$share/a#b/x",
        "$share/",
    ] {
        assert_eq!(
            SharedFilter::parse(bad),
            Err(TopicError::InvalidSharedSubscription),
            "{bad}"
        );
        assert_eq!(
            validate_topic_filter(bad),
            Err(TopicError::InvalidSharedSubscription),
            "{bad}"
        );
        assert!(!matches(bad, "x"), "{bad}");
    }
    // The filter after the ShareName obeys the wildcard rules.
    assert_eq!(
        validate_topic_filter("$share/g/a#"),
        Err(TopicError::MisplacedWildcard)
    );
}

/// Every `TopicError` has a message.
#[test]
fn topic_errors_display() {
    for e in [
        TopicError::Empty,
        TopicError::TooLong,
        TopicError::NullCharacter,
        TopicError::WildcardInName,
        TopicError::MisplacedWildcard,
        TopicError::InvalidSharedSubscription,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

/// A reference matcher written from §4.7, level by level.
fn reference_match(filter: &[&str], topic: &[&str]) -> bool {
    match (filter.first(), topic.first()) {
        (Some(&"#"), _) => true,
        (Some(&"+"), Some(_)) => reference_match(&filter[1..], &topic[1..]),
        (Some(f), Some(t)) if f == t => reference_match(&filter[1..], &topic[1..]),
        (None, None) => true,
        _ => false,
    }
}

fn small_level() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "a", "b", "$x"]).prop_map(String::from)
}

fn small_topic() -> impl Strategy<Value = String> {
    prop::collection::vec(small_level(), 1..4)
        .prop_map(|l| l.join("/"))
        .prop_filter("non-empty", |s| !s.is_empty())
}

fn small_filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![small_level(), Just("+".to_string())], 0..4),
        any::<bool>(),
    )
        .prop_map(|(mut l, hash)| {
            if hash {
                l.push("#".into());
            }
            l.join("/")
        })
        .prop_filter("non-empty", |s| !s.is_empty())
}

proptest! {
    /// `matches` agrees with a level-by-level reference matcher (plus the `$` rule).
    #[test]
    fn matches_agrees_with_reference(filter in small_filter(), topic in small_topic()) {
        prop_assert_eq!(validate_topic_filter(&filter), Ok(()));
        let f: Vec<&str> = filter.split('/').collect();
        let t: Vec<&str> = topic.split('/').collect();
        let dollar_blocked = topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#'));
        let want = !dollar_blocked && reference_match(&f, &t);
        prop_assert_eq!(matches(&filter, &topic), want, "{} ~ {}", filter, topic);
        // Shared: the same answer behind `$share/<group>/`.
        let shared = format!("$share/grp/{filter}");
        prop_assert_eq!(matches(&shared, &topic), want);
    }

    /// Generated topic names are valid names and filters, and match themselves; `#` matches
    /// exactly the names not starting with `$`.
    #[test]
    fn generated_names_are_valid_and_match_themselves(name in topic_name()) {
        prop_assert_eq!(validate_topic_name(&name), Ok(()));
        prop_assert_eq!(validate_topic_filter(&name), Ok(()));
        prop_assert!(matches(&name, &name));
        prop_assert_eq!(matches("#", &name), !name.starts_with('$'));
    }

    /// Generated filters (plain and shared) are valid; a shared one parses back to its parts.
    #[test]
    fn generated_filters_are_valid(filter in any_filter()) {
        prop_assert_eq!(validate_topic_filter(&filter), Ok(()));
        if let Some(rest) = filter.strip_prefix("$share/") {
            let shared = SharedFilter::parse(&filter).unwrap().unwrap();
            let (g, f) = rest.split_once('/').unwrap();
            prop_assert_eq!(shared.group, g);
            prop_assert_eq!(shared.filter, f);
        } else {
            prop_assert_eq!(SharedFilter::parse(&filter), Ok(None));
        }
    }

    /// Any string with a wildcard character is not a valid topic name.
    #[test]
    fn names_with_wildcards_are_invalid(name in topic_name(), at in any::<prop::sample::Index>(), w in prop::sample::select(vec!['+', '#'])) {
        let mut chars: Vec<char> = name.chars().collect();
        let i = at.index(chars.len() + 1);
        chars.insert(i, w);
        let bad: String = chars.into_iter().collect();
        prop_assert_eq!(validate_topic_name(&bad), Err(TopicError::WildcardInName));
    }
}
