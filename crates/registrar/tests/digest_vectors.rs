//! Every row of tests/conformance/digest/digest_vectors.tsv through `compute_response`.

use vaxel_registrar::digest::{ResponseInput, compute_response};
use vaxel_registrar::{Algorithm, Qop};

#[test]
fn every_digest_vector_row() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/conformance/digest/digest_vectors.tsv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header.len(), 13, "{header:?}");
    let mut rows = 0;
    let mut algorithms = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 13, "row `{line}`");
        let algorithm = Algorithm::parse(f[1]).unwrap_or_else(|| panic!("algorithm {}", f[1]));
        let qop = match f[8] {
            "" => None,
            q => Some(Qop::parse(q).unwrap()),
        };
        let got = compute_response(&ResponseInput {
            algorithm,
            username: f[2],
            realm: f[3],
            password: f[4],
            method: f[5],
            uri: f[6],
            nonce: f[7],
            qop,
            nc: f[9],
            cnonce: f[10],
            body_hash: f[11],
        });
        assert_eq!(got, f[12], "vector `{}`", f[0]);
        algorithms.push(algorithm);
        rows += 1;
    }
    assert_eq!(rows, 9);
    for a in [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha512_256,
    ] {
        assert!(algorithms.contains(&a), "no vector for {a}");
    }
}
