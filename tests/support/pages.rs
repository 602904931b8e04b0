//! Reading the dashboard's pages as a person would: what a Russian page still says in
//! English once the data it shows (names, post texts, stored records) is set aside.

/// The text a reader meets on `html`: text between tags and the labels of `aria-label`,
/// `title`, `alt` and `placeholder`; scripts, styles and `<code>` (hashes) left out.
fn readable(html: &str) -> String {
    let mut html = html.to_string();
    for element in ["script", "style", "code"] {
        let open = format!("<{element}");
        let close = format!("</{element}>");
        while let Some(start) = html.find(&open) {
            let Some(end) = html[start..].find(&close) else {
                break;
            };
            html.replace_range(start..start + end + close.len(), " ");
        }
    }
    let mut out = String::new();
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        out.push(' ');
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + end];
        for attribute in ["aria-label=\"", "title=\"", "alt=\"", "placeholder=\""] {
            for piece in tag.split(attribute).skip(1) {
                out.push_str(piece.split('"').next().unwrap_or(""));
                out.push(' ');
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// Words of two Latin letters or more that `html` shows outside `data` (and outside the
/// few names every page carries: crier, the language switch's English, file formats).
pub fn english_left(html: &str, data: &[&str]) -> Vec<String> {
    let mut text = readable(html);
    let mut data: Vec<&str> = data.to_vec();
    data.extend([
        "crier", "English", "Markdown", "HTML", "JSON", "SHA-256", "API",
    ]);
    // Longest first, so a name is not cut by a shorter one inside it.
    data.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for item in data {
        text = text.replace(item, " ");
    }
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| word.len() >= 2)
        .map(str::to_string)
        .collect()
}
