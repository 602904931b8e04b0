//! Mention tone: a classifier trait and the built-in lexicon for English, Ukrainian and
//! Russian, with negation ("not bad" is positive, "не погано" too) and playbook word lists.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use unicode_segmentation::UnicodeSegmentation;

/// The tone of one mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Negative,
    Neutral,
    Positive,
}

/// Classifies a mention's text. Small on purpose, so a better model can replace the lexicon.
pub trait Classifier: Send + Sync {
    fn classify(&self, text: &str) -> Tone;

    /// The same, given `text` in lower case too ([`lowercase`]), as the keyword filter
    /// made it already: a classifier that reads lower case need not make it again.
    fn classify_lowercased(&self, text: &str, lower: &str) -> Tone {
        let _ = lower;
        self.classify(text)
    }
}

/// The lexicon's tables are looked up a few times for every word of every mention: hashed
/// with FxHash's multiply and rotate, a few instructions a word, rather than SipHash. Their
/// keys are the lexicon's own words, so no text a mention brings can make them collide.
#[derive(Debug, Clone, Copy, Default)]
struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        // The table picks buckets by the low bits, which the multiply leaves poorly mixed.
        self.0.rotate_left(26)
    }
}

type Words<V> = HashMap<String, V, BuildHasherDefault<WordHasher>>;

/// How many words after a negator it still flips ("not at all bad").
const NEGATION_REACH: usize = 3;
/// Stems shorter than this never match by prefix (a `*` entry that short matches exactly).
const MIN_STEM_CHARS: usize = 3;

/// A word list scored by sum: negative words -1, positive +1, each flipped when one of the
/// previous [`NEGATION_REACH`] words is a negator. An entry ending in `*` is a stem and
/// matches every word starting with it (Ukrainian and Russian inflect: `жахлив*`).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    exact: Words<i8>,
    stems: Words<i8>,
    longest_stem: usize,
    negators: HashSet<String, BuildHasherDefault<WordHasher>>,
}

const NEGATIVE: &[&str] = &[
    // English
    "bad",
    "worse",
    "worst",
    "awful",
    "terrible",
    "horrible",
    "hate",
    "hated",
    "hates",
    "broken",
    "broke",
    "down",
    "outage",
    "outages",
    "fail*",
    "crash*",
    "scam",
    "fraud",
    "refund",
    "refunds",
    "angry",
    "useless",
    "disappoint*",
    "disgust*",
    "rip-off",
    "ripoff",
    "leak*",
    "hacked",
    "breach*",
    "unacceptable",
    "slow",
    "lost",
    "lies",
    "liar*",
    "boycott*",
    "problem*",
    "error*",
    "bug",
    "bugs",
    "buggy",
    "complain*",
    "poor",
    "pathetic",
    "ridiculous",
    "shame*",
    "stolen",
    "cancel*",
    "worthless",
    "garbage",
    "trash",
    "sucks",
    "suck",
    "wtf",
    "nightmare",
    "dead",
    "unusable",
    "unreliable",
    "overpriced",
    "rude",
    // English: how people say a service is down. A negator and the word after it form a
    // phrase of their own ("can't log", as in "can't log in").
    "offline",
    "unreachable",
    "unavailable",
    "unresponsive",
    "downtime",
    "timeout*",
    "stuck",
    "frozen",
    "freezes",
    "freezing",
    "glitch*",
    "laggy",
    "lagging",
    "unable",
    "can't log",
    "cant log",
    "cannot log",
    "can't login",
    "cant login",
    "cannot login",
    "can't connect",
    "cannot connect",
    "can't access",
    "cannot access",
    "won't load",
    "won't open",
    "doesn't load",
    "doesnt load",
    "not loading",
    "not responding",
    "not work",
    "doesn't work",
    "doesnt work",
    "don't work",
    "didn't work",
    "won't work",
    // Ukrainian
    "поган*",
    "жахлив*",
    "жах",
    "зламал*",
    "зламан*",
    "не працює",
    "збій",
    "збої",
    "збою",
    "шахра*",
    "обман*",
    "ненавид*",
    "гірш*",
    "відстій",
    "ганьб*",
    "розчарув*",
    "витік",
    "витоку",
    "злам",
    "повільн*",
    "проблем*",
    "помилк*",
    "скарг*",
    "верніть",
    "повернення",
    "бойкот*",
    "кошмар*",
    "огидн*",
    "брехн*",
    "брехл*",
    "втрат*",
    "вкрал*",
    "обурлив*",
    "обурен*",
    // Ukrainian: how people say a service is down ("лежить", "впав", "гальмує", "не вантажиться").
    "лежить",
    "лежать",
    "лежав",
    "лежала",
    "лежало",
    "ліг",
    "лягла",
    "лягло",
    "лягли",
    "впав",
    "впала",
    "впало",
    "впали",
    "падає",
    "падають",
    "гальмує",
    "гальмують",
    "гальмить",
    "глюч*",
    "глюк*",
    "зависає",
    "зависло",
    "завис",
    "зависла",
    "висне",
    "вилітає",
    "вилітають",
    "вилетів",
    "вилетіла",
    "вилетіло",
    "відвалив*",
    "відвалил*",
    "недоступн*",
    "збоїв",
    "збоями",
    "не вантажиться",
    "не завантажується",
    "не відкривається",
    "не відповідає",
    "не грузить",
    "не заходить",
    "не пускає",
    // Russian
    "плох*",
    "ужасн*",
    "ужас",
    "сломал*",
    "сломан*",
    "сбой",
    "сбои",
    "сбоя",
    "мошен*",
    "обман*",
    "ненавиж*",
    "ненавид*",
    "хуж*",
    "отстой",
    "позор*",
    "разочаров*",
    "утечк*",
    "взлом*",
    "медленн*",
    "проблем*",
    "ошибк*",
    "жалоб*",
    "верните",
    "возврат*",
    "бойкот*",
    "кошмар*",
    "отвратит*",
    "вранье",
    "враньё",
    "врут",
    "украл*",
    "возмутит*",
    "возмущ*",
    // Russian: how people say a service is down ("упал", "лежит", "тормозит", "не грузится").
    "лежит",
    "лежат",
    "лежал",
    "лежала",
    "лежало",
    "лег",
    "лёг",
    "легла",
    "легло",
    "легли",
    "упал",
    "упала",
    "упало",
    "упали",
    "падает",
    "падают",
    "тормозит",
    "тормозят",
    "тормоза",
    "глюч*",
    "глюк*",
    "зависает",
    "зависло",
    "зависла",
    "завис",
    "виснет",
    "вылета*",
    "вылетел*",
    "отвалил*",
    "недоступ*",
    "сбоев",
    "сбоями",
    "не грузится",
    "не грузит",
    "не загружается",
    "не открывается",
    "не отвечает",
    "не работает",
    "не заходит",
    "не пускает",
];

const POSITIVE: &[&str] = &[
    // English
    "good",
    "great",
    "excellent",
    "love",
    "loved",
    "loves",
    "awesome",
    "amazing",
    "thanks",
    "thank",
    "perfect",
    "best",
    "better",
    "fixed",
    "works",
    "working",
    "fast",
    "helpful",
    "happy",
    "nice",
    "wonderful",
    "fantastic",
    "recommend*",
    "brilliant",
    "glad",
    "kudos",
    "resolved",
    "appreciate*",
    "solid",
    "reliable",
    "fine",
    // Ukrainian
    "добр*",
    "чудов*",
    "дякую",
    "дякуємо",
    "дяка",
    "люблю",
    "супер",
    "класн*",
    "найкращ*",
    "відмінн*",
    "швидк*",
    "працює",
    "полагодил*",
    "виправил*",
    "рекоменд*",
    "молодц*",
    "гарн*",
    "задоволен*",
    "неймовірн*",
    "прекрасн*",
    // Russian
    "хорош*",
    "отличн*",
    "спасибо",
    "благодар*",
    "люблю",
    "класс*",
    "лучш*",
    "прекрасн*",
    "быстр*",
    "работает",
    "починил*",
    "исправил*",
    "рекоменд*",
    "молодц*",
    "доволен",
    "довольн*",
    "неплох*",
    "замечательн*",
    "супер",
];

const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "isn't",
    "isnt",
    "wasn't",
    "wasnt",
    "aren't",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "won't",
    "can't",
    "cant",
    "cannot",
    "hardly",
    "without",
    "nothing",
    "не",
    "ні",
    "ни",
    "нет",
    "без",
    "анітрохи",
    "нисколько",
    // "жодних проблем", "никаких сбоев": no problems at all.
    "жодних",
    "жодного",
    "жодної",
    "никаких",
    "никакого",
    "никакой",
];

impl Lexicon {
    /// English, Ukrainian and Russian words and negators.
    pub fn builtin() -> Lexicon {
        let mut lexicon = Lexicon::empty();
        lexicon.add(NEGATIVE, -1);
        lexicon.add(POSITIVE, 1);
        lexicon
    }

    /// Negators only: the words come from the playbook (`replace_builtin_lexicon`).
    pub fn empty() -> Lexicon {
        Lexicon {
            negators: NEGATORS.iter().map(|w| (*w).to_owned()).collect(),
            ..Lexicon::default()
        }
    }

    /// The lexicon a crisis plan asks for: the built-in one (or none when it replaces it),
    /// then its own negative and positive words, which win over built-in ones.
    pub fn for_plan<S: AsRef<str>>(
        replace_builtin: bool,
        negative: &[S],
        positive: &[S],
    ) -> Lexicon {
        let mut lexicon = if replace_builtin {
            Lexicon::empty()
        } else {
            Lexicon::builtin()
        };
        lexicon.add(negative, -1);
        lexicon.add(positive, 1);
        lexicon
    }

    /// Adds `words` with `score`, replacing an earlier score of the same entry. Multi-word
    /// entries (`не працює`) are scored as phrases.
    pub fn add<S: AsRef<str>>(&mut self, words: &[S], score: i8) {
        for word in words {
            let word = word.as_ref().trim().to_lowercase();
            if word.is_empty() {
                continue;
            }
            match word.strip_suffix('*') {
                Some(stem) if stem.chars().count() >= MIN_STEM_CHARS => {
                    self.longest_stem = self.longest_stem.max(stem.len());
                    self.stems.insert(stem.to_owned(), score);
                }
                Some(stem) => {
                    self.exact.insert(stem.to_owned(), score);
                }
                None => {
                    self.exact.insert(word, score);
                }
            }
        }
    }

    fn score_word(&self, word: &str) -> i8 {
        if let Some(score) = self.exact.get(word) {
            return *score;
        }
        // Longest stem first: char boundaries from the end, down to the shortest stem.
        let mut end = word.len().min(self.longest_stem);
        while !word.is_char_boundary(end) {
            end -= 1;
        }
        let mut chars = word[..end].chars().count();
        while chars >= MIN_STEM_CHARS {
            if let Some(score) = self.stems.get(&word[..end]) {
                return *score;
            }
            end -= 1;
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            chars -= 1;
        }
        0
    }

    /// The summed score of `text` (negative below zero).
    pub fn score(&self, text: &str) -> i32 {
        self.score_lowercased(&lowercase(text))
    }

    /// `score` of a text already in lower case.
    fn score_lowercased(&self, lower: &str) -> i32 {
        // A typographic apostrophe ("can’t") is the same word as a typed one.
        let typed;
        let lower = if lower.contains('\u{2019}') {
            typed = lower.replace('\u{2019}', "'");
            typed.as_str()
        } else {
            lower
        };
        let words: Vec<&str> = lower.unicode_words().collect();
        let mut phrase = String::new();
        let mut total = 0i32;
        let mut since_negator = usize::MAX;
        let mut i = 0;
        while i < words.len() {
            let word = words[i];
            if self.negators.contains(word) {
                // A phrase starting with a negator ("не працює") is a word of its own.
                if let Some(next) = words.get(i + 1) {
                    phrase.clear();
                    phrase.push_str(word);
                    phrase.push(' ');
                    phrase.push_str(next);
                    if let Some(score) = self.exact.get(&phrase) {
                        total += i32::from(*score);
                        i += 2;
                        since_negator = usize::MAX;
                        continue;
                    }
                }
                since_negator = 0;
                i += 1;
                continue;
            }
            let score = i32::from(self.score_word(word));
            if score != 0 {
                let negated = since_negator < NEGATION_REACH;
                total += if negated { -score } else { score };
                since_negator = usize::MAX;
            } else if since_negator != usize::MAX {
                since_negator += 1;
            }
            i += 1;
        }
        total
    }
}

impl Classifier for Lexicon {
    fn classify(&self, text: &str) -> Tone {
        tone(self.score(text))
    }

    fn classify_lowercased(&self, _text: &str, lower: &str) -> Tone {
        tone(self.score_lowercased(lower))
    }
}

fn tone(score: i32) -> Tone {
    match score {
        s if s < 0 => Tone::Negative,
        0 => Tone::Neutral,
        _ => Tone::Positive,
    }
}

/// A plan's `keywords`: a mention counts when its text contains one of them as a whole word
/// or phrase, compared in lower case (Unicode-aware, Cyrillic included: `Акме` finds `АКМЕ`
/// and `@акме`, not `акмеу`). No keywords means every mention of a watched account counts.
#[derive(Debug, Clone, Default)]
pub struct KeywordFilter {
    /// Every keyword, lower-cased, found in one pass over a text (none: no keywords).
    keywords: Option<aho_corasick::AhoCorasick>,
}

impl KeywordFilter {
    pub fn new<S: AsRef<str>>(keywords: &[S]) -> KeywordFilter {
        let keywords: Vec<String> = keywords
            .iter()
            .map(|k| k.as_ref().trim().to_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        KeywordFilter {
            // The automaton fails only past billions of states; a plan's keywords come from
            // playbook files of at most a megabyte.
            keywords: (!keywords.is_empty()).then(|| {
                aho_corasick::AhoCorasick::new(&keywords).expect("a playbook's keywords fit")
            }),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        self.keywords.is_none() || self.matches_lowercased(&lowercase(text))
    }

    /// `matches` of a text already in lower case ([`lowercase`]).
    pub fn matches_lowercased(&self, lower: &str) -> bool {
        let Some(keywords) = &self.keywords else {
            return true;
        };
        // Overlapping: a keyword whose first occurrence runs into a word may stand alone
        // further on, inside another occurrence (`a-a` in `xa-a-a`).
        keywords.find_overlapping_iter(lower).any(|found| {
            let before = lower[..found.start()].chars().next_back();
            let after = lower[found.end()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    }
}

/// `str::to_lowercase`, a few times faster on the letters mentions are mostly written in:
/// ASCII and the basic Cyrillic block (U+0400 to U+045F) are mapped here, any other
/// character as `char::to_lowercase` maps it; a text with a capital sigma, whose lower case
/// depends on where it stands in its word, goes to `str::to_lowercase` whole.
pub fn lowercase(text: &str) -> String {
    if text.contains('Σ') {
        return text.to_lowercase();
    }
    let mut lower = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\0'..='\x7f' => lower.push(c.to_ascii_lowercase()),
            // А..Я to а..я, and Ѐ..Џ (Ё, Є, І, Ї among them) to ѐ..џ.
            '\u{410}'..='\u{42f}' | '\u{400}'..='\u{40f}' => {
                let offset = if c >= '\u{410}' { 0x20 } else { 0x50 };
                lower.push(char::from_u32(u32::from(c) + offset).expect("a Cyrillic letter"));
            }
            '\u{430}'..='\u{45f}' => lower.push(c),
            _ => lower.extend(c.to_lowercase()),
        }
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::lowercase;

    #[test]
    fn lowercase_is_the_standard_library_s_for_every_character() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let text = format!("{c}{c}x");
            assert_eq!(
                lowercase(&text),
                text.to_lowercase(),
                "U+{:04X}",
                u32::from(c)
            );
        }
        for text in [
            "Застосунок НЕ ПРАЦЮЄ, ЖАХЛИВО! Її ЄДНІСТЬ, Ґанок",
            "The App is DOWN, I can’t log in",
            "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ",
            "İSTANBUL ǅ ß ẞ Ⅻ 🎉",
            "",
        ] {
            assert_eq!(lowercase(text), text.to_lowercase(), "{text}");
        }
    }
}
