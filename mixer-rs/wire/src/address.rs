//! The client key: what the wire's per-address counts (`handshakes.rs`)
//! count a peer's address by, as the gateway's per-address limits do
//! (`client_key` in `gateway/limits.py`).
//!
//! An IPv6 client usually owns a whole /64 (2^64 addresses): counted by its
//! full address, it would get round any per-address cap by changing it. So an
//! IPv6 address is counted by its /64. An IPv4-mapped one (`::ffff:a.b.c.d`,
//! how a dual-stack socket reports an IPv4 client) is the IPv4 address it
//! maps: taken as IPv6, every IPv4 client would share `::/64`.

use std::net::{IpAddr, Ipv6Addr};

/// A per-address count's key: an IPv4 address, or an IPv6 /64 (its prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(IpAddr);

/// The key `peer` is counted by: an IPv4 address itself, an IPv4-mapped IPv6
/// address the IPv4 address it maps, any other IPv6 address its /64.
pub(crate) fn client_key(peer: IpAddr) -> ClientKey {
    match peer {
        IpAddr::V4(_) => ClientKey(peer),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ClientKey(IpAddr::V4(v4)),
            None => ClientKey(IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX)))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> ClientKey {
        client_key(address.parse().unwrap())
    }

    #[test]
    fn an_ipv4_address_is_its_own_key() {
        assert_eq!(key("192.0.2.1"), ClientKey("192.0.2.1".parse().unwrap()));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }

    #[test]
    fn two_ipv6_addresses_in_one_64_share_a_key_and_other_64s_do_not() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(key("2001:db8:1:2:abcd::7"), ClientKey("2001:db8:1:2::".parse().unwrap()));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db9:1:2::1"));
        assert_eq!(key("::1"), key("::2"), "loopback is its /64 like any address");
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_address_it_maps() {
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("::ffff:192.0.2.1"), key("::ffff:192.0.2.2"), "not one /64 for every IPv4 client");
        assert_ne!(key("::ffff:127.0.0.1"), key("::1"));
    }

    #[test]
    fn an_ipv4_address_and_an_ipv6_prefix_of_the_same_bits_differ() {
        // 192.0.2.1 is 0xc0000201: no IPv6 /64 key is ever taken for an IPv4 one.
        assert_ne!(key("192.0.2.1"), key("c000:201::"));
        assert_ne!(key("0.0.0.0"), key("::"));
    }
}
