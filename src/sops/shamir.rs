//! Shamir secret sharing over GF(2^8), as sops' `shamir/shamir.go` (a port of Vault's):
//! each part is the share bytes followed by one x-coordinate byte; the secret is the
//! Lagrange interpolation of the parts at x = 0. Field: AES polynomial x^8+x^4+x^3+x+1.

use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShamirError {
    #[error("need at least {0} key-group parts to rebuild the data key, have {1}")]
    TooFew(usize, usize),
    #[error("key-group parts have different lengths")]
    Lengths,
    #[error("key-group parts repeat an x-coordinate")]
    Duplicate,
    #[error("a key-group part is too short")]
    Short,
}

fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut r = 0u8;
    while b != 0 {
        // Constant work per bit would be nicer; the shares are unwrapped key material that
        // already passed the key backends, and the loop runs 8 times at most.
        r ^= a & 0u8.wrapping_sub(b & 1);
        let hi = a >> 7;
        a = (a << 1) ^ (0x1b & 0u8.wrapping_sub(hi));
        b >>= 1;
    }
    r
}

fn inv(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u8;
    while e > 0 {
        if e & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        e >>= 1;
    }
    result
}

/// Rebuilds the secret from `parts` (each: shares ‖ x).
pub fn combine(parts: &[Zeroizing<Vec<u8>>], threshold: usize) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if parts.len() < threshold.max(2) {
        return Err(ShamirError::TooFew(threshold.max(2), parts.len()));
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(ShamirError::Short);
    }
    if parts.iter().any(|p| p.len() != len) {
        return Err(ShamirError::Lengths);
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for i in 0..xs.len() {
        if xs[i + 1..].contains(&xs[i]) {
            return Err(ShamirError::Duplicate);
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (j, part) in parts.iter().enumerate() {
        // Lagrange basis at 0: Π_{m≠j} x_m / (x_m − x_j); subtraction is XOR.
        let mut basis = 1u8;
        for (m, &xm) in xs.iter().enumerate() {
            if m != j {
                basis = mul(basis, mul(xm, inv(xm ^ xs[j])));
            }
        }
        for (i, s) in secret.iter_mut().enumerate() {
            *s ^= mul(part[i], basis);
        }
    }
    Ok(secret)
}

/// Splits `secret` into `n` parts, any `threshold` of which rebuild it (x = 1..=n).
pub fn split(secret: &[u8], n: usize, threshold: usize) -> Vec<Zeroizing<Vec<u8>>> {
    use aes_gcm::aead::rand_core::RngCore;
    let mut rng = aes_gcm::aead::OsRng;
    let mut parts: Vec<Zeroizing<Vec<u8>>> = (1..=n).map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1))).collect();
    let mut coeffs = Zeroizing::new(vec![0u8; threshold.saturating_sub(1)]);
    for &byte in secret {
        rng.fill_bytes(&mut coeffs);
        for (k, part) in parts.iter_mut().enumerate() {
            let x = (k + 1) as u8;
            // Horner: byte + c1·x + c2·x² …
            let mut y = 0u8;
            for &c in coeffs.iter().rev() {
                y = mul(y, x) ^ c;
            }
            y = mul(y, x) ^ byte;
            part.push(y);
        }
    }
    for (k, part) in parts.iter_mut().enumerate() {
        part.push((k + 1) as u8);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_threshold_subset_rebuilds() {
        let secret = [0x42u8; 32];
        let parts = split(&secret, 3, 2);
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let got = combine(&[parts[a].clone(), parts[b].clone()], 2).unwrap();
            assert_eq!(&got[..], &secret);
        }
        assert!(combine(&[parts[0].clone()], 2).is_err());
        assert_eq!(mul(inv(0x53), 0x53), 1);
    }
}
