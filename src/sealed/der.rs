//! The little DER kunseal needs: wrapping a PKCS#1 RSA key as PKCS#8, and reading a
//! certificate's SubjectPublicKeyInfo and notAfter without validating anything else
//! (controller certs carry a KeyUsage strict X.509 parsers reject; see
//! `../shared/docs/SEALED-SECRETS-FORMAT.md` §3).

fn len_bytes(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let b = n.to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        let mut out = vec![0x80 | (b.len() - skip) as u8];
        out.extend_from_slice(&b[skip..]);
        out
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(len_bytes(body.len()));
    out.extend_from_slice(body);
    out
}

/// PKCS#1 `RSAPrivateKey` → PKCS#8 `PrivateKeyInfo` (rsaEncryption, NULL parameters).
pub fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const RSA_ALG: &[u8] = &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(RSA_ALG);
    body.extend(tlv(0x04, pkcs1));
    tlv(0x30, &body)
}

/// One TLV: (tag, whole element, contents, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn read(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((tag, &input[..end], &input[hdr..end], &input[end..]))
}

/// What kunseal reads from a sealing certificate.
pub struct CertInfo {
    pub spki: Vec<u8>,
    /// notAfter as seconds since the Unix epoch.
    pub not_after: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn parse_time(tag: u8, s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let y: i64 = s.get(0..2)?.parse().ok()?;
            (if y >= 50 { 1900 + y } else { 2000 + y }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, sec) = (n(0..2)?, n(2..4)?, n(4..6)?, n(6..8)?, n(8..10)?);
    if !rest.ends_with('Z') {
        return None;
    }
    Some(days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + sec)
}

/// Reads SubjectPublicKeyInfo and notAfter of an X.509 certificate (DER).
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, _, cert, _) = read(der)?;
    let (_, _, tbs, _) = read(cert)?;
    let mut rest = tbs;
    // [0] version (optional)
    if rest.first() == Some(&0xa0) {
        rest = read(rest)?.3;
    }
    rest = read(rest)?.3; // serial
    rest = read(rest)?.3; // signature algorithm
    rest = read(rest)?.3; // issuer
    let (_, _, validity, after_validity) = read(rest)?;
    let (_, _, _, v) = read(validity)?; // notBefore
    let (tag, _, na, _) = read(v)?;
    let not_after = parse_time(tag, na)?;
    rest = read(after_validity)?.3; // subject
    let (_, spki, _, _) = read(rest)?;
    Some(CertInfo { spki: spki.to_vec(), not_after })
}

/// Every PEM block of a text: (label, DER).
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else { break };
        let label = after[..label_end].to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else { break };
        let b64: String = body_start[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push((label, der));
        }
        rest = &body_start[end + end_marker.len()..];
    }
    out
}
