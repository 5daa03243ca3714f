//! Golden end-to-end cases: one directory per case under tests/golden/ holding the inputs,
//! `cmd` (kunseal's arguments, one per line), optional `env` (KEY=VALUE lines, paths
//! relative to the case), optional `stdin`, and the expectations `expected.out` (stdout, exact),
//! `expected.code` (exit code, default 0) and `expected.err` (lines stderr must contain).
//! Adding a case is adding a directory. `KUNSEAL_BLESS=1` writes the expectations from the
//! current output (review them: for decryptions, compare with `sops decrypt`).

use std::path::Path;

use crate::util::*;

fn run_case(dir: &Path) -> Result<(), String> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let args: Vec<String> = read("cmd").ok_or("missing cmd")?.lines().map(str::to_string).collect();
    let mut c = kunseal();
    c.current_dir(dir).args(&args);
    for line in read("env").unwrap_or_default().lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').ok_or("bad env line")?;
        c.env(k, v);
    }
    let stdin = std::fs::read(dir.join("stdin")).ok();
    let out = run(c, stdin.as_deref());
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if std::env::var("KUNSEAL_BLESS").as_deref() == Ok("1") {
        std::fs::write(dir.join("expected.out"), &out.stdout).unwrap();
        std::fs::write(dir.join("expected.code"), format!("{code}\n")).unwrap();
        std::fs::write(dir.join("expected.err"), &stderr).unwrap();
        return Ok(());
    }
    let want_code: i32 = read("expected.code").map_or(Ok(0), |s| s.trim().parse()).map_err(|_| "bad expected.code")?;
    if code != want_code {
        return Err(format!("exit code {code}, expected {want_code}; stderr: {stderr}"));
    }
    let want_out = std::fs::read(dir.join("expected.out")).unwrap_or_default();
    if out.stdout != want_out {
        return Err(format!("stdout differs:\n--- got\n{}\n--- expected\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&want_out)));
    }
    for line in read("expected.err").unwrap_or_default().lines().filter(|l| !l.trim().is_empty()) {
        if !stderr.contains(line) {
            return Err(format!("stderr lacks {line:?}; stderr: {stderr}"));
        }
    }
    Ok(())
}

#[test]
fn golden_cases() {
    let root = repo().join("tests/golden");
    let mut dirs: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("cmd").exists()).collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "golden cases missing");
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| run_case(d).err().map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy())))
        .collect();
    assert!(failures.is_empty(), "{} golden case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}
