//! The blocking adapter: the session over `std::net::TcpStream` and rustls (being written).
