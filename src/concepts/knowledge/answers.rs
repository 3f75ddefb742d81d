//! Judging answers: normalisation, alias matching and refusal detection. Both the behavioural
//! labels (is this entity known?) and the steering rates (refusal, hallucination) rest on these.

/// Phrases that make an answer a refusal (matched as whole words after [`normalise`]).
pub const REFUSAL_PHRASES: [&str; 22] = [
    "i don't know",
    "i do not know",
    "not sure",
    "sorry",
    "cannot",
    "can't",
    "no information",
    "not familiar",
    "unknown",
    "i don't have",
    "i do not have",
    "no idea",
    "not aware",
    "unable to",
    "does not exist",
    "doesn't exist",
    "no such",
    "not a real",
    "fictional",
    "not known",
    "couldn't find",
    "could not find",
];

/// Lower-cases `s`, deletes apostrophes and full stops (so "don't" reads "dont" and "U.S.A."
/// reads "usa"), turns every other character that is not a letter or digit into a space and
/// collapses runs of spaces.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !matches!(c, '\'' | '\u{2019}' | '.') {
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether normalised `text` contains normalised `alias`: as a substring (the data README's
/// rule) for aliases of four or more characters, as a whole word for shorter ones ("usa"),
/// which would otherwise match inside unrelated words.
fn contains_alias(text: &str, alias: &str) -> bool {
    if alias.is_empty() {
        return false;
    }
    if alias.chars().count() < 4 {
        format!(" {text} ").contains(&format!(" {alias} "))
    } else {
        text.contains(alias)
    }
}

/// Whether `answer` names any of `aliases` (case, punctuation and spacing ignored).
pub fn answer_matches(answer: &str, aliases: &[String]) -> bool {
    let a = normalise(answer);
    aliases.iter().any(|x| contains_alias(&a, &normalise(x)))
}

/// Whether a question gives its answer away: an alias appears in the entity's name.
pub fn leaks_answer(entity: &str, aliases: &[String]) -> bool {
    answer_matches(entity, aliases)
}

/// Whether `answer` declines to answer (any of [`REFUSAL_PHRASES`], as whole words).
pub fn is_refusal(answer: &str) -> bool {
    let a = format!(" {} ", normalise(answer));
    REFUSAL_PHRASES
        .iter()
        .any(|p| a.contains(&format!(" {} ", normalise(p))))
}

/// The first non-empty line of a continuation, trimmed: the part that is judged.
pub fn first_line(raw: &str) -> &str {
    raw.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

/// How one answer was judged.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Verdict {
    pub(super) correct: bool,
    pub(super) refusal: bool,
    /// Non-empty, not a refusal and not correct.
    pub(super) hallucination: bool,
    pub(super) empty: bool,
}

/// Judges one answer against the accepted aliases.
pub(super) fn judge(answer: &str, aliases: &[String]) -> Verdict {
    let empty = normalise(answer).is_empty();
    let correct = !empty && answer_matches(answer, aliases);
    let refusal = !empty && is_refusal(answer);
    Verdict {
        correct,
        refusal,
        hallucination: !empty && !refusal && !correct,
        empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn normalising_drops_case_punctuation_and_apostrophes() {
        assert_eq!(normalise("  The U.S.A.,  France!\n"), "the usa france");
        assert_eq!(normalise("I don’t know."), "i dont know");
        assert_eq!(normalise("19th-century"), "19th century");
    }

    #[test]
    fn answers_match_aliases_by_substring_and_short_ones_by_word() {
        assert!(answer_matches(" France, in Europe", &s(&["France"])));
        assert!(answer_matches("the 19th-century", &s(&["19th century"])));
        assert!(answer_matches("USA", &s(&["United States", "USA"])));
        assert!(!answer_matches("Jerusalem", &s(&["USA"])));
        assert!(!answer_matches("", &s(&["France"])));
        assert!(leaks_answer("Manchester United", &s(&["Manchester"])));
        assert!(!leaks_answer("Paris", &s(&["France"])));
        assert!(!leaks_answer("Zorblat FC", &[]));
    }

    #[test]
    fn refusals_are_whole_phrases() {
        assert!(is_refusal("I don't know."));
        assert!(is_refusal("I'm not sure about that"));
        assert!(is_refusal("Unknown"));
        assert!(!is_refusal("Paris"));
        assert!(!is_refusal("Cannotville"));
        let v = judge("I'm sorry, I cannot answer", &s(&["France"]));
        assert!(v.refusal && !v.hallucination && !v.correct);
        let v = judge("Germany", &s(&["France"]));
        assert!(v.hallucination && !v.refusal);
        let v = judge("", &[]);
        assert!(v.empty && !v.hallucination);
    }

    #[test]
    fn first_line_skips_leading_blank_lines() {
        assert_eq!(first_line("\n  France\nQuestion: next"), "France");
        assert_eq!(first_line("   "), "");
    }
}
