//! Write scopes: what a task may change (`{files=GLOB,…}`), and whether two tasks' scopes
//! may touch the same file, in which case they never run at once.
//!
//! The rule, sound and conservative (it may say "overlap" for two globs that share no
//! file, never the other way round). A glob's *literal prefix* is its text up to the
//! first of `* ? [ ] { } \`; every path the glob matches starts with it (`**` matches
//! anything below, a `*` may be anything). A glob with no such character is a literal
//! path: the file, or the directory and everything below it. Then:
//! - two literal paths overlap when they are equal or one is a directory of the other
//!   (`src/a` and `src/a/b.rs`, not `src/a` and `src/ab`);
//! - otherwise, two globs overlap when one's literal prefix is a prefix of the other's:
//!   `src/*.ts` and `src/session/**` overlap (both may be `src/…`); `src/a/**` and
//!   `src/b/**` do not.
//!
//! A leading `./` is ignored, and so is a trailing `/`.

use serde::Serialize;

/// The characters that make a path a glob, and end its literal prefix.
const META: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// What a task with no `files` may change (the `scope_default` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeDefault {
    /// Unconstrained: it runs beside anything.
    #[default]
    None,
    /// Anything: it runs beside no task that has a scope (strict serial safety).
    Everything,
}

/// What a task may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// It declared nothing: it runs beside anything.
    #[default]
    Free,
    /// Anything at all.
    Everything,
    /// The paths its globs match.
    Globs(Vec<String>),
}

impl Scope {
    /// The scope of a task that declares `files` (empty: nothing declared).
    pub fn of(files: &[String], default: ScopeDefault) -> Scope {
        match (files.is_empty(), default) {
            (false, _) => Scope::Globs(files.iter().map(|f| normal(f).to_string()).collect()),
            (true, ScopeDefault::None) => Scope::Free,
            (true, ScopeDefault::Everything) => Scope::Everything,
        }
    }

    /// It constrains what may run beside it.
    pub fn is_free(&self) -> bool {
        *self == Scope::Free
    }

    /// Two tasks with these scopes may change the same file.
    pub fn overlaps(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Free, _) | (_, Scope::Free) => false,
            (Scope::Everything, _) | (_, Scope::Everything) => true,
            (Scope::Globs(a), Scope::Globs(b)) => {
                a.iter().any(|x| b.iter().any(|y| globs_overlap(x, y)))
            }
        }
    }
}

/// `glob` without a leading `./` or a trailing `/`.
fn normal(glob: &str) -> &str {
    let glob = glob.strip_prefix("./").unwrap_or(glob);
    match glob.trim_end_matches('/') {
        "" => glob,
        trimmed => trimmed,
    }
}

/// Whether two (normalized) globs may match the same path; see the module's rule.
fn globs_overlap(a: &str, b: &str) -> bool {
    let (pa, pb) = (literal_prefix(a), literal_prefix(b));
    if pa.len() == a.len() && pb.len() == b.len() {
        return a == b || below(a, b) || below(b, a);
    }
    pa.starts_with(pb) || pb.starts_with(pa)
}

/// `path` is inside the directory `dir`.
fn below(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The glob's text up to its first metacharacter.
fn literal_prefix(glob: &str) -> &str {
    glob.find(META).map_or(glob, |i| &glob[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(list: &[&str]) -> Scope {
        Scope::of(
            &list.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ScopeDefault::None,
        )
    }

    fn overlap(a: &str, b: &str) -> bool {
        let (x, y) = (globs(&[a]), globs(&[b]));
        assert_eq!(x.overlaps(&y), y.overlaps(&x), "symmetric: {a} {b}");
        x.overlaps(&y)
    }

    #[test]
    fn literal_paths_overlap_when_equal_or_one_holds_the_other() {
        assert!(overlap("src/login.ts", "src/login.ts"));
        assert!(overlap("./src/session/", "src/session/store.ts"));
        assert!(!overlap("src/login.ts", "src/logout.ts"));
        assert!(!overlap("src/a", "src/ab"));
    }

    #[test]
    fn globs_overlap_by_their_literal_prefixes() {
        assert!(overlap("src/session/**", "src/session/store.ts"));
        assert!(overlap("src/**", "src/session/*.ts"));
        assert!(overlap("src/*.ts", "src/session/**"), "conservative");
        assert!(overlap("src/log*", "src/login.ts"));
        assert!(overlap("**", "README.md"));
        assert!(!overlap("src/a/**", "src/b/**"));
        assert!(!overlap("docs/*.md", "src/**"));
        assert!(!overlap("src/login.ts", "src/session/**"));
    }

    #[test]
    fn free_overlaps_nothing_and_everything_overlaps_any_scope() {
        let free = Scope::of(&[], ScopeDefault::None);
        let all = Scope::of(&[], ScopeDefault::Everything);
        assert!(!free.overlaps(&all) && !free.overlaps(&free));
        assert!(all.overlaps(&all) && all.overlaps(&globs(&["x"])));
        assert!(globs(&["a", "b/**"]).overlaps(&globs(&["c", "b/x"])));
    }

    use proptest::prelude::*;

    /// Globs and paths built from a few segments, so that they often meet.
    fn glob() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            Just("src"),
            Just("a"),
            Just("ab"),
            Just("x.rs"),
            Just("*"),
            Just("**"),
            Just("*.rs"),
            Just("a*"),
            Just("?b"),
        ];
        prop::collection::vec(segment, 1..4).prop_map(|s| s.join("/"))
    }

    fn path() -> impl Strategy<Value = String> {
        let segment = prop_oneof![Just("src"), Just("a"), Just("ab"), Just("x.rs"), Just("bb")];
        prop::collection::vec(segment, 1..5).prop_map(|s| s.join("/"))
    }

    /// What a glob covers: the paths globset matches, and for a path with no glob
    /// character, everything below it too.
    fn covers(glob: &str, path: &str) -> bool {
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher();
        matcher.is_match(path) || (!glob.contains(META) && super::below(path, glob))
    }

    proptest! {
        /// Sound: two globs that both cover some path are said to overlap.
        #[test]
        fn globs_that_share_a_path_overlap(a in glob(), b in glob(), paths in prop::collection::vec(path(), 1..20)) {
            for path in &paths {
                if covers(&a, path) && covers(&b, path) {
                    prop_assert!(globs_overlap(&a, &b), "{a} and {b} both cover {path}");
                }
            }
        }
    }
}
