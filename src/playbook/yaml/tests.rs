use super::*;
use crate::diagnostic::SourceFile;
use serde::Deserialize;

fn parse(text: &str) -> (Vec<Node>, Vec<crate::diagnostic::Diagnostic>) {
    parse_documents(&SourceFile::new("t.yaml", text), 0)
}

#[test]
fn marks_are_one_based_lines_and_columns() {
    let (docs, errors) = parse("a: 1\nb:\n  - x\n  - 'y'\nc: |\n  line one\n  line two\n");
    assert!(errors.is_empty(), "{errors:?}");
    let root = &docs[0];
    assert_eq!((root.mark.line, root.mark.column), (1, 1));
    let a = root.entry("a").unwrap();
    assert_eq!((a.0.mark.line, a.0.mark.column), (1, 1));
    assert_eq!((a.1.mark.line, a.1.mark.column), (1, 4));
    let NodeKind::Sequence(items) = &root.get("b").unwrap().kind else {
        panic!()
    };
    assert_eq!((items[0].mark.line, items[0].mark.column), (3, 5));
    assert_eq!(
        (items[1].mark.line, items[1].mark.column, items[1].width),
        (4, 5, 3)
    );
    let c = root.get("c").unwrap();
    assert_eq!((c.mark.line, c.mark.column), (6, 3));
    assert_eq!(c.as_str(), Some("line one\nline two\n"));
}

#[test]
fn duplicate_keys_alias_bombs_and_depth_are_rejected() {
    let (_, errors) = parse("a: 1\nb: 2\na: 3\n");
    assert_eq!(errors[0].message, "duplicate key `a`");
    assert_eq!(errors[0].position.unwrap().line, 3);

    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let (_, errors) = parse(&bomb);
    assert!(
        errors[0].message.contains("expands to more than"),
        "{errors:?}"
    );

    let deep = format!("a: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (_, errors) = parse(&deep);
    assert!(
        errors[0].message.contains("nesting is deeper"),
        "{errors:?}"
    );
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Post {
    id: String,
    text: Spanned<String>,
    #[serde(default)]
    to: Vec<Spanned<String>>,
    #[serde(default)]
    missed: Option<Missed>,
    #[serde(default)]
    count: u32,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Missed {
    Skip,
    Once,
    All,
}

#[test]
fn deserializes_with_positions() {
    let (docs, _) = parse("id: a\ntext: \"hello\"\nto: [x, y]\nmissed: once\n");
    let post: Post = from_node(&docs[0]).unwrap();
    assert_eq!(post.text.value, "hello");
    assert_eq!(
        (post.text.mark.line, post.text.mark.column, post.text.width),
        (2, 7, 7)
    );
    assert_eq!(post.to[1].value, "y");
    assert_eq!((post.to[1].mark.line, post.to[1].mark.column), (3, 9));
    assert_eq!(post.missed, Some(Missed::Once));
}

#[test]
fn reports_every_structural_error() {
    let (docs, _) =
        parse("id: a\ntex: hi\ntext: x\nto: {a: 1}\nmissed: onse\ncount: many\nextra: 1\n");
    let errors = from_node::<Post>(&docs[0]).unwrap_err();
    let shown: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{}:{} {} / {}",
                e.position.unwrap().line,
                e.position.unwrap().column,
                e.message,
                e.hint.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "2:1 unknown field `tex` / did you mean `text`?",
            "4:5 expected a list, found a map / write a list as `[a, b]` or as lines starting with `- `",
            "5:9 unknown value `onse` / did you mean `once`?",
            "6:8 expected a whole number, 0 or more, found `many` / ",
            "7:1 unknown field `extra` / the fields here are `id`, `text`, `to`, `missed` or `count`",
        ]
    );
}

#[test]
fn missing_field_points_at_the_map() {
    let (docs, _) = parse("x: 1\npost:\n  id: a\n");
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        x: u32,
        post: Post,
    }
    let errors = from_node::<Outer>(&docs[0]).unwrap_err();
    assert_eq!(errors[0].message, "missing field `text`");
    assert_eq!(errors[0].position.unwrap().line, 3);
}

#[test]
fn positions_inside_block_scalars() {
    let text = "when: |\n  a &&\n    bad_name\n";
    let source = SourceFile::new("t.yaml", text);
    let (docs, _) = parse_documents(&source, 0);
    let node = docs[0].get("when").unwrap();
    let pos = position_inside(&source, node.mark, node.style().unwrap(), 2, 3, 8);
    assert_eq!((pos.line, pos.column), (3, 5));
    let text = "a: 1\nwhen: >-\n    x > 1 &&\n    nope\n";
    let source = SourceFile::new("t.yaml", text);
    let (docs, _) = parse_documents(&source, 0);
    let node = docs[0].get("when").unwrap();
    let pos = position_inside(&source, node.mark, node.style().unwrap(), 2, 1, 4);
    assert_eq!((pos.line, pos.column), (4, 5));
    let text = "when: 'a && b'\n";
    let source = SourceFile::new("t.yaml", text);
    let (docs, _) = parse_documents(&source, 0);
    let node = docs[0].get("when").unwrap();
    let pos = position_inside(&source, node.mark, node.style().unwrap(), 1, 6, 1);
    assert_eq!((pos.line, pos.column), (1, 13));
}
