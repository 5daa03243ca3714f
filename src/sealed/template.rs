//! The part of Go's text/template (and Sprig) that SealedSecret `template.data` uses:
//! fields (`.key`), `index . "key"`, pipelines and the functions `printf`, `toJson`,
//! `b64enc`, `b64dec`, `quote`, `trim`, `upper`, `lower`, `default`, `indent`, `nindent`;
//! `{{-`/`-}}` trimming. Anything else is a clear error, never a silent difference.

use std::collections::BTreeMap;

use base64::Engine;

#[derive(Debug, Clone)]
enum V {
    S(String),
    I(i64),
    Dot,
}

fn text(v: &V, data: &BTreeMap<String, String>) -> String {
    match v {
        V::S(s) => s.clone(),
        V::I(i) => i.to_string(),
        V::Dot => {
            let inner: Vec<String> = data.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut lit = String::from('"');
            chars.next();
            loop {
                let c = chars.next().ok_or("unterminated string in template")?;
                lit.push(c);
                if c == '\\' {
                    lit.push(chars.next().ok_or("unterminated string in template")?);
                } else if c == '"' {
                    break;
                }
            }
            out.push(lit);
        } else if c == '|' || c == '(' || c == ')' {
            out.push(c.to_string());
            chars.next();
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' || c == '(' || c == ')' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

fn go_json(s: &str) -> String {
    let mut out = String::new();
    crate::sops::stores::json::quote(s, &mut out);
    out
}

fn operand(tok: &str, data: &BTreeMap<String, String>) -> Result<V, String> {
    if tok == "." {
        return Ok(V::Dot);
    }
    if let Some(field) = tok.strip_prefix('.') {
        return Ok(V::S(data.get(field).cloned().unwrap_or_else(|| "<no value>".into())));
    }
    if tok.starts_with('"') {
        return serde_json::from_str::<String>(tok).map(V::S).map_err(|_| format!("bad string literal {tok}"));
    }
    if let Ok(i) = tok.parse::<i64>() {
        return Ok(V::I(i));
    }
    Err(format!("unsupported template operand {tok:?}"))
}

fn call(name: &str, args: Vec<V>, data: &BTreeMap<String, String>) -> Result<V, String> {
    let s = |i: usize| args.get(i).map(|v| text(v, data)).ok_or_else(|| format!("{name}: missing argument"));
    let n = |i: usize| match args.get(i) {
        Some(V::I(n)) => Ok(*n),
        _ => Err(format!("{name}: expected a number")),
    };
    Ok(V::S(match name {
        "index" => match (args.first(), args.get(1)) {
            (Some(V::Dot), Some(k)) => data.get(&text(k, data)).cloned().unwrap_or_else(|| "<no value>".into()),
            _ => return Err("index: only `index . \"key\"` is supported".into()),
        },
        "toJson" => go_json(&s(0)?),
        "b64enc" => base64::engine::general_purpose::STANDARD.encode(s(0)?),
        "b64dec" => String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(s(0)?).map_err(|_| "b64dec: not base64")?).into_owned(),
        "quote" => format!("{:?}", s(0)?),
        "trim" => s(0)?.trim().to_string(),
        "upper" => s(0)?.to_uppercase(),
        "lower" => s(0)?.to_lowercase(),
        "default" => {
            let v = s(1)?;
            if v.is_empty() || v == "<no value>" {
                s(0)?
            } else {
                v
            }
        }
        "indent" | "nindent" => {
            let pad = " ".repeat(n(0)?.max(0) as usize);
            let body = s(1)?.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n");
            if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            }
        }
        "printf" => {
            let fmt = s(0)?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let mut chars = fmt.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('%') => out.push('%'),
                    Some(v @ ('s' | 'v' | 'd' | 'q')) => {
                        let a = rest.next().map(|a| text(a, data)).unwrap_or_else(|| "%!v(MISSING)".into());
                        out.push_str(&if v == 'q' { format!("{a:?}") } else { a });
                    }
                    other => return Err(format!("printf: unsupported verb %{}", other.unwrap_or(' '))),
                }
            }
            out
        }
        other => return Err(format!("unsupported template function {other:?}")),
    }))
}

fn eval_cmd(toks: &[String], piped: Option<V>, data: &BTreeMap<String, String>) -> Result<V, String> {
    let Some(first) = toks.first() else { return piped.ok_or_else(|| "empty template action".to_string()) };
    if first.starts_with('.') || first.starts_with('"') || first.parse::<i64>().is_ok() {
        if toks.len() > 1 || piped.is_some() {
            return Err("unsupported template expression".into());
        }
        return operand(first, data);
    }
    let mut args = toks[1..].iter().map(|t| operand(t, data)).collect::<Result<Vec<_>, _>>()?;
    args.extend(piped);
    call(first, args, data)
}

fn eval_action(action: &str, data: &BTreeMap<String, String>) -> Result<String, String> {
    let toks = tokens(action)?;
    if toks.iter().any(|t| t == "(" || t == ")") || matches!(toks.first().map(String::as_str), Some("if" | "range" | "with" | "define" | "template" | "block" | "end" | "else")) {
        return Err("unsupported template construct (only fields, index and function pipelines)".into());
    }
    let mut v = None;
    for cmd in toks.split(|t| t == "|") {
        v = Some(eval_cmd(cmd, v, data)?);
    }
    Ok(text(&v.ok_or("empty template action")?, data))
}

/// Executes one template over the decrypted items.
pub fn render(tpl: &str, data: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(start) = rest.find("{{") {
        let mut lit = &rest[..start];
        let mut inner = &rest[start + 2..];
        if let Some(t) = inner.strip_prefix('-').filter(|t| t.starts_with(char::is_whitespace)) {
            lit = lit.trim_end();
            inner = t;
        }
        out.push_str(lit);
        let end = inner.find("}}").ok_or("unclosed {{ in template")?;
        let mut action = &inner[..end];
        let mut after = &inner[end + 2..];
        if let Some(a) = action.strip_suffix('-').filter(|a| a.ends_with(char::is_whitespace)) {
            action = a;
            after = after.trim_start();
        }
        let action = action.trim();
        if !(action.starts_with("/*") && action.ends_with("*/")) {
            out.push_str(&eval_action(action, data)?);
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_common_forms() {
        let data: BTreeMap<String, String> = [("foo".to_string(), "bar".to_string()), ("my-key".into(), " x<y ".into())].into();
        assert_eq!(render("secret {{ index . \"foo\" }} !", &data).unwrap(), "secret bar !");
        assert_eq!(render("{{ .foo | upper | quote }}", &data).unwrap(), "\"BAR\"");
        assert!(render("{{ toJson (index . \"my-key\") }}", &data).is_err());
        assert_eq!(render("{{ index . \"my-key\" | trim | toJson }}", &data).unwrap(), "\"x\\u003cy\"");
        assert_eq!(render("a:{{- .foo | b64enc }}", &data).unwrap(), "a:YmFy");
        assert_eq!(render("{{ printf \"%s-%s\" .foo .foo }}", &data).unwrap(), "bar-bar");
        assert_eq!(render("{{ .missing | default \"d\" }}", &data).unwrap(), "d");
        assert_eq!(render("{{ .foo | nindent 2 }}", &data).unwrap(), "\n  bar");
        assert!(render("{{ if .foo }}x{{ end }}", &data).is_err());
        assert!(render("{{ env \"HOME\" }}", &data).is_err());
    }
}
