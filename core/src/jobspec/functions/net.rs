//! IP network functions over CIDR prefixes, IPv4 and IPv6: `cidrhost`,
//! `cidrnetmask`, `cidrsubnet` and `cidrsubnets`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hcl::Value;
use hcl::eval::{FuncArgs, FuncDef, ParamType};

use super::{check_elements, int_of};

pub(super) fn register(defs: &mut Vec<(&'static str, FuncDef)>) {
    let (s, n) = (|| ParamType::String, || ParamType::Number);
    defs.push((
        "cidrhost",
        FuncDef::builder().params([s(), n()]).build(cidrhost),
    ));
    defs.push((
        "cidrnetmask",
        FuncDef::builder().param(s()).build(cidrnetmask),
    ));
    defs.push((
        "cidrsubnet",
        FuncDef::builder().params([s(), n(), n()]).build(cidrsubnet),
    ));
    defs.push((
        "cidrsubnets",
        FuncDef::builder()
            .param(s())
            .variadic_param(n())
            .build(cidrsubnets),
    ));
}

/// A parsed prefix: the network address as an integer, its length, and the
/// address width (32 or 128).
#[derive(Debug, Clone, Copy)]
struct Prefix {
    base: u128,
    len: u32,
    width: u32,
}

impl Prefix {
    fn parse(s: &str, func: &str) -> Result<Prefix, String> {
        let net: ipnet::IpNet = s
            .parse()
            .map_err(|_| format!("{func}: invalid CIDR expression {s:?}"))?;
        let net = net.trunc();
        let (base, width) = match net.network() {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        Ok(Prefix {
            base,
            len: u32::from(net.prefix_len()),
            width,
        })
    }

    /// The number of host bits.
    fn host_bits(&self) -> u32 {
        self.width - self.len
    }

    /// The last address in the prefix.
    fn last(&self) -> u128 {
        self.base | low_mask(self.host_bits())
    }

    /// Renders an address of this prefix's family.
    fn addr(&self, a: u128) -> String {
        if self.width == 32 {
            Ipv4Addr::from(u32::try_from(a).unwrap_or(u32::MAX)).to_string()
        } else {
            Ipv6Addr::from(a).to_string()
        }
    }
}

/// A mask with the low `bits` bits set.
fn low_mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// `cidrhost(prefix, hostnum)`; a negative host number counts back from the
/// end of the range.
fn cidrhost(args: FuncArgs) -> Result<Value, String> {
    let p = Prefix::parse(args[0].as_str().unwrap_or_default(), "cidrhost")?;
    let hostnum = int_of(&args[1], "cidrhost", "host number")?;
    let size = low_mask(p.host_bits());
    let offset: Option<u128> = if hostnum >= 0 {
        Some(u128::from(hostnum.unsigned_abs())).filter(|h| *h <= size)
    } else {
        // -1 is the last address.
        size.checked_sub(u128::from(hostnum.unsigned_abs()) - 1)
    };
    let offset = offset.ok_or_else(|| {
        format!(
            "cidrhost: prefix of {} does not accommodate a host numbered {hostnum}",
            p.len
        )
    })?;
    Ok(p.addr(p.base + offset).into())
}

/// `cidrnetmask(prefix)`: the dotted netmask of an IPv4 prefix.
fn cidrnetmask(args: FuncArgs) -> Result<Value, String> {
    let p = Prefix::parse(args[0].as_str().unwrap_or_default(), "cidrnetmask")?;
    if p.width != 32 {
        return Err("cidrnetmask: only IPv4 prefixes have a netmask".into());
    }
    let mask = !low_mask(p.host_bits()) & u128::from(u32::MAX);
    Ok(p.addr(mask).into())
}

/// `cidrsubnet(prefix, newbits, netnum)`.
fn cidrsubnet(args: FuncArgs) -> Result<Value, String> {
    let p = Prefix::parse(args[0].as_str().unwrap_or_default(), "cidrsubnet")?;
    let newbits = int_of(&args[1], "cidrsubnet", "newbits")?;
    let netnum = int_of(&args[2], "cidrsubnet", "netnum")?;
    let newbits = u32::try_from(newbits)
        .map_err(|_| format!("cidrsubnet: newbits {newbits} must not be negative"))?;
    if newbits > 32 {
        return Err("cidrsubnet: may not extend prefix by more than 32 bits".into());
    }
    if newbits > p.host_bits() {
        return Err(format!(
            "cidrsubnet: insufficient address space to extend prefix of {} by {newbits}",
            p.len
        ));
    }
    let netnum = u128::try_from(netnum)
        .ok()
        .filter(|n| *n <= low_mask(newbits))
        .ok_or_else(|| {
            format!(
                "cidrsubnet: prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
            )
        })?;
    let new_len = p.len + newbits;
    let shift = p.width - new_len;
    let net = p.base | netnum.checked_shl(shift).unwrap_or(0);
    Ok(format!("{}/{new_len}", p.addr(net)).into())
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets of the given sizes,
/// each aligned to its own size, all within the prefix.
fn cidrsubnets(args: FuncArgs) -> Result<Value, String> {
    let p = Prefix::parse(args[0].as_str().unwrap_or_default(), "cidrsubnets")?;
    check_elements(args.len(), "cidrsubnets")?;
    // The first free address; None once the whole address space is used.
    let mut cursor = Some(p.base);
    let mut out = Vec::new();
    for arg in args.iter().skip(1) {
        let newbits = int_of(arg, "cidrsubnets", "newbits")?;
        if newbits < 1 {
            return Err("cidrsubnets: must extend prefix by at least one bit".into());
        }
        if newbits > 32 {
            return Err("cidrsubnets: may not extend prefix by more than 32 bits".into());
        }
        let new_len = p.len + u32::try_from(newbits).unwrap_or(32);
        if new_len > p.width {
            return Err(format!(
                "cidrsubnets: would extend prefix to {new_len} bits, which is too long for an {} address",
                if p.width == 32 { "IPv4" } else { "IPv6" }
            ));
        }
        let host = low_mask(p.width - new_len);
        // Align the cursor up to the subnet size.
        let start = cursor.and_then(|c| c.checked_add(host)).map(|c| c & !host);
        let fits = start.filter(|s| s.checked_add(host).is_some_and(|end| end <= p.last()));
        let Some(start) = fits else {
            return Err(format!(
                "cidrsubnets: not enough remaining address space for a subnet with a prefix of {new_len} bits"
            ));
        };
        out.push(Value::String(format!("{}/{new_len}", p.addr(start))));
        cursor = (start + host).checked_add(1);
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_err, assert_eval};

    #[test]
    fn hosts() {
        assert_eval(r#"cidrhost("10.12.112.0/20", 16)"#, r#""10.12.112.16""#);
        assert_eval(r#"cidrhost("10.12.112.0/20", 268)"#, r#""10.12.113.12""#);
        assert_eval(r#"cidrhost("10.0.0.0/24", -1)"#, r#""10.0.0.255""#);
        assert_eval(
            r#"cidrhost("fd00:fd12:3456:7890:00a2::/72", 34)"#,
            r#""fd00:fd12:3456:7890::22""#,
        );
        assert_err(
            r#"cidrhost("10.0.0.0/24", 256)"#,
            "does not accommodate a host numbered 256",
        );
        assert_err(r#"cidrhost("10.0.0.0/24", -257)"#, "does not accommodate");
        assert_err(r#"cidrhost("10.0.0.0/33", 1)"#, "invalid CIDR");
    }

    #[test]
    fn netmasks() {
        assert_eval(r#"cidrnetmask("172.16.0.0/12")"#, r#""255.240.0.0""#);
        assert_eval(r#"cidrnetmask("0.0.0.0/0")"#, r#""0.0.0.0""#);
        assert_err(r#"cidrnetmask("fd00::/8")"#, "only IPv4");
        assert_err(r#"cidrnetmask("bogus")"#, "invalid CIDR");
    }

    #[test]
    fn subnets() {
        assert_eval(r#"cidrsubnet("10.0.0.0/8", 8, 2)"#, r#""10.2.0.0/16""#);
        assert_eval(r#"cidrsubnet("172.16.0.0/12", 4, 2)"#, r#""172.18.0.0/16""#);
        assert_eval(r#"cidrsubnet("10.1.2.0/24", 4, 15)"#, r#""10.1.2.240/28""#);
        assert_eval(
            r#"cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)"#,
            r#""fd00:fd12:3456:7800:a200::/72""#,
        );
        assert_err(
            r#"cidrsubnet("10.0.0.0/8", 8, 256)"#,
            "does not accommodate a subnet numbered 256",
        );
        assert_err(
            r#"cidrsubnet("10.0.0.0/30", 3, 0)"#,
            "insufficient address space",
        );
        assert_err(r#"cidrsubnet("10.0.0.0/8", -1, 0)"#, "negative");
        assert_err(r#"cidrsubnet("fd00::/16", 33, 0)"#, "more than 32 bits");
    }

    #[test]
    fn many_subnets() {
        assert_eval(
            r#"cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)"#,
            r#"["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"]"#,
        );
        assert_eval(
            r#"cidrsubnets("fd00:fd12:3456:7890::/56", 16, 16, 16, 32)"#,
            r#"["fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72", "fd00:fd12:3456:7800:200::/72", "fd00:fd12:3456:7800:300::/88"]"#,
        );
        assert_eval(r#"cidrsubnets("10.0.0.0/8")"#, "[]");
        assert_eval(r#"cidrsubnets("::/0", 1, 1)"#, r#"["::/1", "8000::/1"]"#);
        assert_err(r#"cidrsubnets("::/0", 1, 1, 1)"#, "not enough remaining");
        assert_err(
            r#"cidrsubnets("10.0.0.0/30", 1, 1, 1)"#,
            "not enough remaining address space",
        );
        assert_err(r#"cidrsubnets("10.0.0.0/8", 0)"#, "at least one bit");
        assert_err(r#"cidrsubnets("10.0.0.0/30", 3)"#, "too long for an IPv4");
    }
}
