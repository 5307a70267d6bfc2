//! The complexity rules for user-defined passwords, as the seed states them. The same checker
//! serves user passwords and any other password a client wants to vet (report passwords...).
pub use crate::model::PasswordRules;
use sealscan_api::Code;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    TooShort,
    TooLong,
    NoLowercase,
    NoUppercase,
    NoDigit,
    NoSpecial,
    ThreeIdentical,
    ThreeSequential,
    ContainsFirstName,
    ContainsLastName,
}

impl Violation {
    /// This rule as the API reports it, with its text for people.
    pub fn reported(self, min_len: u32) -> sealscan_api::Violation {
        sealscan_api::Violation {
            rule: self.rule(),
            message: self.describe(min_len),
        }
    }

    pub fn rule(self) -> Code {
        match self {
            Violation::TooShort => Code::PasswordMinLength,
            Violation::TooLong => Code::PasswordMaxLength,
            Violation::NoLowercase => Code::PasswordLowercase,
            Violation::NoUppercase => Code::PasswordUppercase,
            Violation::NoDigit => Code::PasswordDigit,
            Violation::NoSpecial => Code::PasswordSpecial,
            Violation::ThreeIdentical => Code::PasswordThreeIdentical,
            Violation::ThreeSequential => Code::PasswordThreeSequential,
            Violation::ContainsFirstName => Code::PasswordFirstName,
            Violation::ContainsLastName => Code::PasswordLastName,
        }
    }

    pub fn describe(self, min_len: u32) -> String {
        match self {
            Violation::TooShort => format!("must be at least {min_len} characters long"),
            Violation::TooLong => format!(
                "must be at most {} characters long",
                crate::model::PASSWORD_MAX_LENGTH
            ),
            Violation::NoLowercase => "must contain a lowercase letter".into(),
            Violation::NoUppercase => "must contain an uppercase letter".into(),
            Violation::NoDigit => "must contain a digit".into(),
            Violation::NoSpecial => "must contain a special character".into(),
            Violation::ThreeIdentical => {
                "must not contain 3 identical characters in a row (e.g. aaa, 222)".into()
            }
            Violation::ThreeSequential => {
                "must not contain 3 sequential letters or digits (e.g. abc, cba, 123, 321)".into()
            }
            Violation::ContainsFirstName => "must not contain the user's first name".into(),
            Violation::ContainsLastName => "must not contain the user's last name".into(),
        }
    }
}

/// The name parts a password may not contain.
#[derive(Default)]
pub struct Names<'a> {
    pub first: &'a str,
    pub last: &'a str,
}

/// Every rule the password breaks, in a stable order; empty means acceptable. The length
/// bounds always apply; the other rules as `rules` selects them.
pub fn check(
    password: &str,
    min_len: u32,
    rules: &PasswordRules,
    names: &Names<'_>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < min_len as usize {
        out.push(Violation::TooShort);
    }
    if chars.len() > crate::model::PASSWORD_MAX_LENGTH as usize {
        out.push(Violation::TooLong);
    }
    if rules.lowercase && !chars.iter().any(|c| c.is_lowercase()) {
        out.push(Violation::NoLowercase);
    }
    if rules.uppercase && !chars.iter().any(|c| c.is_uppercase()) {
        out.push(Violation::NoUppercase);
    }
    if rules.digit && !chars.iter().any(|c| c.is_ascii_digit()) {
        out.push(Violation::NoDigit);
    }
    if rules.special && !chars.iter().any(|c| !c.is_alphanumeric()) {
        out.push(Violation::NoSpecial);
    }
    if rules.no_three_identical && chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        out.push(Violation::ThreeIdentical);
    }
    if rules.no_three_sequential && chars.windows(3).any(is_sequential) {
        out.push(Violation::ThreeSequential);
    }
    let lower = password.to_lowercase();
    if rules.no_names && contains_name(&lower, names.first) {
        out.push(Violation::ContainsFirstName);
    }
    if rules.no_names && contains_name(&lower, names.last) {
        out.push(Violation::ContainsLastName);
    }
    out
}

/// abc, cba, 123, 321 (letters case-insensitively); mixed letter/digit runs don't count.
fn is_sequential(w: &[char]) -> bool {
    let norm: Vec<char> = w.iter().map(|c| c.to_ascii_lowercase()).collect();
    let same_class =
        norm.iter().all(|c| c.is_ascii_lowercase()) || norm.iter().all(|c| c.is_ascii_digit());
    if !same_class {
        return false;
    }
    let (a, b, c) = (norm[0] as i32, norm[1] as i32, norm[2] as i32);
    (b - a == 1 && c - b == 1) || (a - b == 1 && b - c == 1)
}

fn contains_name(lower_password: &str, name: &str) -> bool {
    let name = name.trim().to_lowercase();
    // A one-letter "name" would forbid most passwords; the rule is about recognisable names.
    name.chars().count() >= 2 && lower_password.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: PasswordRules = PasswordRules::ALL;
    const JOHN: Names<'static> = Names {
        first: "John",
        last: "Doe",
    };

    #[test]
    fn seed_examples_for_john_doe_are_refused() {
        assert!(check("88johnab3!e", 8, &ALL, &JOHN).contains(&Violation::ContainsFirstName));
        assert!(check("doe!6209ad#", 8, &ALL, &JOHN).contains(&Violation::ContainsLastName));
    }

    #[test]
    fn seed_runs_are_refused() {
        for run in ["aaa", "222"] {
            let pw = format!("Xy7!q{run}Kp");
            assert!(
                check(&pw, 8, &ALL, &JOHN).contains(&Violation::ThreeIdentical),
                "{run}"
            );
        }
        for run in [
            "abc", "cba", "xyz", "zyx", "012", "123", "321", "210", "ABC", "XyZ",
        ] {
            let pw = format!("Q7!k{run}Wp");
            assert!(
                check(&pw, 8, &ALL, &JOHN).contains(&Violation::ThreeSequential),
                "{run}"
            );
        }
    }

    #[test]
    fn good_password_passes_and_length_follows_minimum() {
        assert!(check("Tr7!kq9Lm", 8, &ALL, &JOHN).is_empty());
        assert_eq!(check("Tr7!kq9", 8, &ALL, &JOHN), vec![Violation::TooShort]);
        assert_eq!(
            check("Tr7!kq9Lm", 12, &ALL, &JOHN),
            vec![Violation::TooShort]
        );
    }

    #[test]
    fn each_class_is_required() {
        assert!(check("tr7!kq9lm", 8, &ALL, &JOHN).contains(&Violation::NoUppercase));
        assert!(check("TR7!KQ9LM", 8, &ALL, &JOHN).contains(&Violation::NoLowercase));
        assert!(check("Trx!kqwLm", 8, &ALL, &JOHN).contains(&Violation::NoDigit));
        assert!(check("Tr7pkq9Lm", 8, &ALL, &JOHN).contains(&Violation::NoSpecial));
    }

    /// Each rule is its own option: turning one off lifts that rule alone.
    #[test]
    fn each_rule_can_be_turned_off_alone() {
        type TurnOff = fn(&mut PasswordRules);
        let cases: [(&str, Violation, TurnOff); 8] = [
            ("TR7!KQ9LM", Violation::NoLowercase, |r| r.lowercase = false),
            ("tr7!kq9lm", Violation::NoUppercase, |r| r.uppercase = false),
            ("Trx!kqwLm", Violation::NoDigit, |r| r.digit = false),
            ("Tr7pkq9Lm", Violation::NoSpecial, |r| r.special = false),
            ("Xy7!qaaaKp", Violation::ThreeIdentical, |r| {
                r.no_three_identical = false
            }),
            ("Q7!kabcWp", Violation::ThreeSequential, |r| {
                r.no_three_sequential = false
            }),
            ("88johnab3!E", Violation::ContainsFirstName, |r| {
                r.no_names = false
            }),
            ("Doe!6209ad#", Violation::ContainsLastName, |r| {
                r.no_names = false
            }),
        ];
        for (pw, broken, turn_off) in cases {
            assert_eq!(check(pw, 8, &ALL, &JOHN), vec![broken], "{pw}");
            let mut rules = ALL;
            turn_off(&mut rules);
            assert!(check(pw, 8, &rules, &JOHN).is_empty(), "{pw}");
        }
        // The minimum length is no such option.
        let none = PasswordRules {
            lowercase: false,
            uppercase: false,
            digit: false,
            special: false,
            no_three_identical: false,
            no_three_sequential: false,
            no_names: false,
        };
        assert_eq!(check("aaaaaaa", 8, &none, &JOHN), vec![Violation::TooShort]);
    }
}
