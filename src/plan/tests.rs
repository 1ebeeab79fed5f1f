//! The plan's contract: what counts as a task, stable ids, and one-byte check-offs.

use super::*;
use proptest::prelude::*;

fn tasks(text: &str) -> Vec<Task> {
    parse(text, Path::new("PLAN.md")).unwrap()
}

fn ids(text: &str) -> Vec<String> {
    tasks(text).into_iter().map(|t| t.id.0).collect()
}

const SAMPLE: &str = "# Plan
- [ ] Write docs/auth.md describing src/auth.ts {out=docs/auth.md}
  Mention tokens.
  - plain sub-bullet
  - [ ] Nested task {#nested}
    nested context
- [x] Done one
* [ ] Star item  
1. [ ] Numbered item

```
- [ ] not a task in a fence
```
";

#[test]
fn finds_tasks_with_text_context_output_and_offsets() {
    let t = tasks(SAMPLE);
    let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Write docs/auth.md describing src/auth.ts",
            "Nested task",
            "Done one",
            "Star item",
            "Numbered item"
        ]
    );
    assert_eq!(t[0].output.as_deref(), Some("docs/auth.md"));
    assert_eq!(t[0].context, "Mention tokens.\n- plain sub-bullet");
    assert_eq!(t[1].id.0, "nested");
    assert_eq!(t[1].context, "nested context");
    assert!(t[2].checked && !t[0].checked);
    assert_eq!(
        t.iter().map(|t| t.line).collect::<Vec<_>>(),
        [2, 5, 7, 8, 9]
    );
    for task in &t {
        let b = SAMPLE.as_bytes();
        assert_eq!(b[task.checkbox - 1], b'[');
        assert_eq!(b[task.checkbox + 1], b']');
    }
}

#[test]
fn crlf_and_tabs_keep_offsets_right() {
    let text = "intro\r\n\r\n- [ ] One\r\n\tindented context\r\n- [X] Two  \r\n";
    let t = tasks(text);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].text, "One");
    assert_eq!(t[0].context, "indented context");
    assert_eq!(&text[t[0].checkbox - 1..t[0].checkbox + 2], "[ ]");
    assert_eq!(&text[t[1].checkbox - 1..t[1].checkbox + 2], "[X]");
    assert!(t[1].checked);
    assert_eq!(t[1].text, "Two");
}

#[test]
fn a_byte_order_mark_is_skipped_and_kept() {
    let text = "\u{feff}- [ ] First\n- [ ] Second\n";
    let t = tasks(text);
    assert_eq!(t.len(), 2);
    assert_eq!(&text[t[0].checkbox - 1..t[0].checkbox + 2], "[ ]");
    assert_eq!(t[0].text, "First");
}

#[test]
fn an_empty_task_is_an_error() {
    let err = parse("- [ ] ok\n- [ ]   {#x}\n", Path::new("PLAN.md")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("PLAN.md:2: the task has no text"),
        "{err}"
    );
}

#[test]
fn derived_ids_are_slugs_cut_with_a_hash() {
    assert_eq!(
        ids("- [ ] Refactor src/login.ts\n"),
        ["refactor-src-login-ts"]
    );
    let long = ids("- [ ] A very long task text that goes on and on beyond forty characters\n");
    assert!(
        long[0].starts_with("a-very-long-task-text-that-goes-on-and-"),
        "{}",
        long[0]
    );
    assert_eq!(
        long[0].len(),
        "a-very-long-task-text-that-goes-on-and".len() + 7
    );
    let unicode = ids("- [ ] 漢字のタスク\n");
    assert_eq!(unicode[0].len(), 6, "{}", unicode[0]);
}

#[test]
fn editing_one_task_keeps_every_other_id() {
    let before = ids("- [ ] Alpha\n- [ ] Beta\n- [ ] Gamma {#g}\n");
    let after = ids("- [ ] New first\n- [ ] Alpha\n- [ ] Beta, edited\n- [ ] Gamma changed {#g}\n");
    assert_eq!(before[0], after[1]);
    assert_eq!(before[2], after[3]);
    assert_ne!(before[1], after[2]);
}

#[test]
fn duplicate_ids_name_both_lines() {
    let err = parse("- [ ] Same\n\n- [ ] Same\n", Path::new("PLAN.md")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("PLAN.md:3: duplicate task id `same` (first used on line 1)"),
        "{msg}"
    );
}

#[test]
fn bad_attributes_are_errors_with_the_line() {
    for bad in [
        "- [ ] x {#bad/id}\n",
        "- [ ] x {#a size=3}\n",
        "- [ ] x {#a #b}\n",
    ] {
        let err = parse(&format!("\n{bad}"), Path::new("PLAN.md")).unwrap_err();
        assert!(err.to_string().starts_with("PLAN.md:2: "), "{err}");
    }
    // Braces that are not an attribute block are part of the text.
    assert_eq!(tasks("- [ ] Fix fn f() {}\n")[0].text, "Fix fn f() {}");
}

#[test]
fn a_missing_or_non_utf8_plan_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("PLAN.md");
    assert!(matches!(load(&missing), Err(PlanError::Missing { .. })));
    std::fs::write(&missing, b"- [ ] ok\n- [ ] caf\xe9\n").unwrap();
    match load(&missing) {
        Err(PlanError::NotUtf8 { offset, .. }) => assert_eq!(offset, 18),
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_off_flips_one_byte_and_reports_checked_and_gone_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    std::fs::write(&path, SAMPLE).unwrap();
    let t = tasks(SAMPLE);
    assert_eq!(check_off(&path, &t[3].id).unwrap(), CheckOff::Checked);
    let after = std::fs::read(&path).unwrap();
    let mut want = SAMPLE.as_bytes().to_vec();
    want[t[3].checkbox] = b'x';
    assert_eq!(after, want);
    assert_eq!(
        check_off(&path, &t[2].id).unwrap(),
        CheckOff::AlreadyChecked
    );
    assert_eq!(
        check_off(&path, &TaskId("nope".into())).unwrap(),
        CheckOff::Gone
    );
    assert_eq!(std::fs::read(&path).unwrap(), want);
}

#[test]
fn check_off_applies_to_the_newest_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    std::fs::write(&path, "- [ ] One\n- [ ] Two\n").unwrap();
    // A person adds a line above while the run goes on.
    std::fs::write(&path, "Note added by hand\n\n- [ ] One\n- [ ] Two\n").unwrap();
    check_off(&path, &TaskId("two".into())).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "Note added by hand\n\n- [ ] One\n- [x] Two\n"
    );
}

#[test]
fn ten_thousand_tasks_parse() {
    let text: String = (0..10_000)
        .map(|i| format!("- [ ] Task number {i}\n"))
        .collect();
    assert_eq!(tasks(&text).len(), 10_000);
}

/// One block of a generated plan.
fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z ,.]{0,30}".prop_map(|s| format!("{s}\n")),
        "[A-Za-z ]{1,12}".prop_map(|s| format!("# {s}\n")),
        ("[A-Za-z0-9 ;$()`'\"-]{1,30}", any::<bool>(), 0..3usize).prop_map(|(s, c, ctx)| {
            let mut out = format!("- [{}] {s}  \n", if c { "x" } else { " " });
            for i in 0..ctx {
                out.push_str(&format!("  - context {i} {s}\n"));
            }
            out
        }),
        "[a-z ]{1,20}".prop_map(|s| format!("```\n- [ ] {s}\n```\n")),
        Just("\n".to_string()),
    ]
}

fn plan() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(block(), 0..25),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(blocks, crlf, trailing_newline)| {
            let mut text = blocks.concat();
            if !trailing_newline {
                while text.ends_with('\n') {
                    text.pop();
                }
            }
            if crlf {
                text.replace('\n', "\r\n")
            } else {
                text
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Checking off a batch (with swarm's notes under some tasks, unknown ids and repeats)
    /// writes the same file, and says the same, as checking them off one by one.
    #[test]
    fn a_batch_is_the_same_as_one_by_one(
        text in plan(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        notes in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let Ok(parsed) = parse(&text, Path::new("PLAN.md")) else {
            return Ok(());
        };
        let mut ids: Vec<TaskId> = vec![tid("not-in-the-plan")];
        ids.extend(parsed.iter().map(|t| t.id.clone()));
        let batch: Vec<TaskId> = picks.iter().map(|i| i.get(&ids).clone()).collect();
        let (_one, one) = plan_file(&text);
        let (_all, all) = plan_file(&text);
        for note in &notes {
            let id = note.get(&ids);
            prop_assert_eq!(set_note(&one, id, "failed").unwrap(), set_note(&all, id, "failed").unwrap());
        }
        let singles: Vec<(TaskId, CheckOff)> = batch
            .iter()
            .map(|id| (id.clone(), check_off(&one, id).unwrap()))
            .collect();
        let mut plan = PlanFile::open(&all).unwrap();
        prop_assert_eq!(plan.check_off(&batch).unwrap(), singles);
        prop_assert_eq!(std::fs::read(&all).unwrap(), std::fs::read(&one).unwrap());
        assert_cache_is_the_file(&plan);
    }

    /// Checking off every open task, in any order, changes only their checkbox bytes.
    #[test]
    fn check_off_changes_only_checkbox_bytes(text in plan(), seed in any::<u64>()) {
        let Ok(before) = parse(&text, Path::new("PLAN.md")) else {
            // Generated duplicates are refused; that is covered elsewhere.
            return Ok(());
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("PLAN.md");
        std::fs::write(&path, &text).unwrap();
        let mut open: Vec<&Task> = before.iter().filter(|t| !t.checked).collect();
        let n = open.len().max(1);
        open.rotate_left((seed as usize) % n);
        for task in &open {
            prop_assert_eq!(check_off(&path, &task.id).unwrap(), CheckOff::Checked);
            let now = load(&path).unwrap().1;
            let ids: Vec<_> = now.iter().map(|t| &t.id).collect();
            let want: Vec<_> = before.iter().map(|t| &t.id).collect();
            prop_assert_eq!(ids, want);
        }
        let mut want = text.into_bytes();
        for task in &open {
            want[task.checkbox] = b'x';
        }
        prop_assert_eq!(std::fs::read(&path).unwrap(), want);
    }
}

#[test]
fn a_failure_note_is_written_replaced_and_dropped_on_check_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    let original = "- [ ] One\r\n  context line\r\n- [ ] Two";
    std::fs::write(&path, original).unwrap();
    let one = TaskId("one".into());
    let two = TaskId("two".into());
    assert!(set_note(&path, &one, "failed after 3 attempts").unwrap());
    assert!(set_note(&path, &two, "failed once").unwrap());
    assert!(set_note(&path, &one, "failed after 4 attempts").unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "- [ ] One\r\n  ⚠ swarm: failed after 4 attempts\r\n  context line\r\n- [ ] Two\r\n  ⚠ swarm: failed once"
    );
    let t = tasks(&text);
    assert_eq!(t[0].context, "context line", "the note is not context");
    assert_eq!(ids(&text), ["one", "two"]);
    check_off(&path, &one).unwrap();
    check_off(&path, &two).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [x] One\r\n  context line\r\n- [x] Two\r\n"
    );
}

/// A plan file in a temp dir, holding `text`.
fn plan_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The cache holds what the file holds, parsed as a fresh parse would.
fn assert_cache_is_the_file(plan: &PlanFile) {
    let text = std::fs::read_to_string(plan.path()).unwrap();
    assert_eq!(plan.text(), text);
    assert_eq!(plan.tasks(), tasks(&text));
    for task in plan.tasks() {
        assert_eq!(plan.task(&task.id), Some(task));
    }
}

/// A person's save that has stood for longer than [`SETTLE`]: a check-off may build on it.
fn save(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    let past = std::time::SystemTime::now() - SETTLE * 5;
    file.set_modified(past).unwrap();
}

fn tid(s: &str) -> TaskId {
    TaskId(s.into())
}

/// The inode behind the path: an atomic write replaces it.
fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

#[test]
fn plan_file_check_offs_in_a_row_use_the_cache_and_stay_right() {
    let (_dir, path) = plan_file("- [ ] One\n  context\n- [ ] Two\n- [ ] Three\n");
    let mut plan = PlanFile::open(&path).unwrap();
    assert_eq!(
        plan.check_off(&[tid("two")]).unwrap(),
        [(tid("two"), CheckOff::Checked)]
    );
    assert_cache_is_the_file(&plan);
    assert_eq!(
        plan.check_off(&[tid("three"), tid("one")]).unwrap(),
        [
            (tid("three"), CheckOff::Checked),
            (tid("one"), CheckOff::Checked)
        ]
    );
    assert_cache_is_the_file(&plan);
    assert_eq!(
        plan.text(),
        "- [x] One\n  context\n- [x] Two\n- [x] Three\n"
    );
}

#[test]
fn a_persons_edit_between_two_check_offs_survives() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n- [ ] Three\n");
    let mut plan = PlanFile::open(&path).unwrap();
    plan.check_off(&[tid("one")]).unwrap();
    let edits = [
        // Offsets move: a line above every task.
        "Read this first.\n\n- [x] One\n- [ ] Two\n- [ ] Three\n",
        // A task added, with context, in the middle.
        "Read this first.\n\n- [x] One\n- [ ] Zero {#zero}\n  new context\n- [ ] Two\n- [ ] Three\n",
        // Tasks reordered, one checked by hand.
        "Read this first.\n\n- [ ] Three\n- [ ] Two\n- [x] Zero {#zero}\n  new context\n- [x] One\n",
    ];
    let expected = [
        "Read this first.\n\n- [x] One\n- [ ] Two\n- [x] Three\n",
        "Read this first.\n\n- [x] One\n- [x] Zero {#zero}\n  new context\n- [ ] Two\n- [ ] Three\n",
        "Read this first.\n\n- [ ] Three\n- [x] Two\n- [x] Zero {#zero}\n  new context\n- [x] One\n",
    ];
    let checking = [tid("three"), tid("zero"), tid("two")];
    for ((edit, want), id) in edits.iter().zip(expected).zip(checking) {
        save(&path, edit);
        assert_eq!(
            plan.check_off(std::slice::from_ref(&id)).unwrap(),
            [(id, CheckOff::Checked)]
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
        assert_cache_is_the_file(&plan);
    }
    // The hand-checked task is reported as such, and the file is left alone.
    let before = inode(&path);
    assert_eq!(
        plan.check_off(&[tid("zero")]).unwrap(),
        [(tid("zero"), CheckOff::AlreadyChecked)]
    );
    assert_eq!(inode(&path), before);
}

#[test]
fn a_batch_drops_the_notes_under_the_tasks_it_checks() {
    let original = "# Plan\n- [ ] One\n  context\n- [ ] Two\n* [ ] Three\n10. [ ] Four\n- [ ] Five";
    let (_dir, path) = plan_file(original);
    let mut plan = PlanFile::open(&path).unwrap();
    for (id, note) in [("one", "a"), ("three", "b"), ("four", "c"), ("five", "d")] {
        assert!(plan.set_note(&tid(id), note).unwrap());
        assert_cache_is_the_file(&plan);
    }
    assert_eq!(
        plan.text(),
        "# Plan\n- [ ] One\n  ⚠ swarm: a\n  context\n- [ ] Two\n* [ ] Three\n  ⚠ swarm: b\n10. [ ] Four\n  ⚠ swarm: c\n- [ ] Five\n  ⚠ swarm: d"
    );
    let outcomes = plan
        .check_off(&[
            tid("four"),
            tid("one"),
            tid("two"),
            tid("five"),
            tid("three"),
        ])
        .unwrap();
    assert!(outcomes.iter().all(|(_, o)| *o == CheckOff::Checked));
    assert_eq!(
        plan.text(),
        "# Plan\n- [x] One\n  context\n- [x] Two\n* [x] Three\n10. [x] Four\n- [x] Five\n"
    );
    assert_cache_is_the_file(&plan);
}

#[test]
fn a_batch_reports_gone_and_already_checked_tasks() {
    let (_dir, path) = plan_file("- [x] Done\n- [ ] Open\n- [ ] Other\n");
    let mut plan = PlanFile::open(&path).unwrap();
    let before = inode(&path);
    assert_eq!(
        plan.check_off(&[tid("done"), tid("nope")]).unwrap(),
        [
            (tid("done"), CheckOff::AlreadyChecked),
            (tid("nope"), CheckOff::Gone)
        ]
    );
    assert_eq!(inode(&path), before, "nothing to change, nothing written");
    assert_eq!(
        plan.check_off(&[tid("open"), tid("done"), tid("nope"), tid("open")])
            .unwrap(),
        [
            (tid("open"), CheckOff::Checked),
            (tid("done"), CheckOff::AlreadyChecked),
            (tid("nope"), CheckOff::Gone),
            (tid("open"), CheckOff::AlreadyChecked),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [x] Done\n- [x] Open\n- [ ] Other\n"
    );
    assert!(!plan.set_note(&tid("open"), "checked: no note").unwrap());
    assert!(!plan.set_note(&tid("nope"), "gone: no note").unwrap());
    assert_eq!(plan.check_off(&[]).unwrap(), []);
    assert_cache_is_the_file(&plan);
}

#[test]
fn refresh_ignores_our_own_writes_and_parses_a_persons() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n");
    let mut plan = PlanFile::open(&path).unwrap();
    assert!(!plan.refresh().changed, "nothing changed");
    plan.check_off(&[tid("one")]).unwrap();
    assert!(!plan.refresh().changed, "our own check-off");
    plan.set_note(&tid("two"), "failed").unwrap();
    assert!(!plan.refresh().changed, "our own note");
    std::fs::write(&path, "- [x] One\n- [ ] Two\n- [ ] Three\n").unwrap();
    assert!(plan.refresh().changed, "a person's edit");
    assert_eq!(plan.tasks().len(), 3);
    assert_cache_is_the_file(&plan);
    assert!(!plan.refresh().changed, "read once");
    // A plan that does not parse is reported, and the cache keeps the last good plan.
    std::fs::write(&path, "- [ ] Same\n- [ ] Same\n").unwrap();
    let refresh = plan.refresh();
    assert!(!refresh.changed);
    assert!(
        refresh
            .problem
            .unwrap()
            .contains("PLAN.md:2: duplicate task id `same`")
    );
    assert_eq!(plan.tasks().len(), 3);
}

#[test]
fn a_persons_edit_that_our_write_built_on_is_still_reported() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // The person saves; our check-off comes before the watcher's echo is read.
    save(&path, "- [ ] One\n- [ ] Two\n- [ ] Three\n");
    plan.check_off(&[tid("one")]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [x] One\n- [ ] Two\n- [ ] Three\n"
    );
    assert!(
        plan.refresh().changed,
        "the new task must reach the scheduler"
    );
    assert!(!plan.refresh().changed, "reported once");
}

/// Writes `text` in place, as an editor that truncates and rewrites does, now.
fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_save_that_does_not_parse_or_is_empty_keeps_the_last_good_plan_and_is_reported_once() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // `yyp` in vim: the duplicated line is saved before it is edited.
    write_in_place(&path, "- [ ] One\n- [ ] One\n- [ ] Two\n");
    let first = plan.refresh();
    assert!(!first.changed);
    let problem = first.problem.expect("reported");
    assert!(
        problem.contains("PLAN.md:2: duplicate task id `one`"),
        "{problem}"
    );
    assert_eq!(plan.refresh(), Refresh::default(), "said once");
    assert_eq!(ids(plan.text()), ["one", "two"], "the last good plan stays");
    for broken in ["", "# Plan\n", "\n  \n"] {
        write_in_place(&path, broken);
        let refresh = plan.refresh();
        assert!(!refresh.changed, "{broken:?}");
        assert!(refresh.problem.unwrap().contains("PLAN.md:"), "{broken:?}");
        assert_eq!(plan.tasks().len(), 2);
    }
    std::fs::remove_file(&path).unwrap();
    assert!(plan.refresh().problem.unwrap().contains("no such plan"));
    write_in_place(&path, "- [ ] One\n- [ ] One again\n- [ ] Two\n");
    let good = plan.refresh();
    assert!(good.changed && good.problem.is_none());
    assert_eq!(ids(plan.text()), ["one", "one-again", "two"]);
    // The same problem after a good save is reported again.
    write_in_place(&path, "- [ ] One\n- [ ] One\n");
    assert!(plan.refresh().problem.is_some());
}

#[test]
fn a_check_off_never_builds_on_a_plan_mid_save_and_is_never_dropped() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n- [ ] Three\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // Truncated for the moment of an in-place save.
    write_in_place(&path, "");
    assert_eq!(
        plan.check_off(&[tid("two")]).unwrap(),
        [(tid("two"), CheckOff::Pending)]
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "",
        "nothing written"
    );
    assert!(plan.pending());
    // Half written: parses, but the task is cut off.
    save(&path, "- [ ] One\n");
    assert_eq!(plan.check_off(&[]).unwrap(), []);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "- [ ] One\n");
    assert!(
        !plan.pending(),
        "a task the plan does not hold waits for a refresh"
    );
    // Does not parse.
    save(&path, "- [ ] One\n- [ ] One\n- [ ] Two\n");
    assert!(!plan.refresh().changed);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] One\n- [ ] One\n- [ ] Two\n"
    );
    // The save is done, with the person's new line: the mark lands on it.
    save(&path, "- [ ] One\n- [ ] One more\n- [ ] Two\n- [ ] Three\n");
    assert!(plan.refresh().changed);
    assert!(!plan.pending());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] One\n- [ ] One more\n- [x] Two\n- [ ] Three\n"
    );
    assert_cache_is_the_file(&plan);
}

#[test]
fn a_check_off_waits_until_a_persons_save_has_settled() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // Just written: the editor may still be writing the rest.
    write_in_place(&path, "- [ ] One\n- [ ] Two\n");
    write_in_place(&path, "- [ ] One\n");
    assert_eq!(
        plan.check_off(&[tid("one")]).unwrap(),
        [(tid("one"), CheckOff::Pending)]
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "- [ ] One\n");
    write_in_place(&path, "- [ ] One\n- [ ] Two\n- [ ] Mine\n");
    assert_eq!(plan.settle(SETTLE * 10).unwrap(), []);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [x] One\n- [ ] Two\n- [ ] Mine\n"
    );
}

#[test]
fn a_failure_note_waits_for_a_good_plan_too() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Two\n");
    let mut plan = PlanFile::open(&path).unwrap();
    save(&path, "- [ ] One\n- [ ] Two\n- [ ] Two\n");
    assert!(plan.set_note(&tid("two"), "failed: timeout").unwrap());
    assert!(plan.pending());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] One\n- [ ] Two\n- [ ] Two\n"
    );
    save(&path, "- [ ] One\n- [ ] Two\n- [ ] Two b\n");
    assert!(plan.refresh().changed);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] One\n- [ ] Two\n  ⚠ swarm: failed: timeout\n- [ ] Two b\n"
    );
    assert!(!plan.pending());
}

#[test]
fn an_edited_pending_task_keeps_its_id_and_takes_its_new_text() {
    let (_dir, path) = plan_file("- [ ] One\n- [ ] Delete the staging database\n- [ ] Three\n");
    let mut plan = PlanFile::open(&path).unwrap();
    let old = tid("delete-the-staging-database");
    save(
        &path,
        "- [ ] One\n- [ ] Do NOT delete the staging database\n- [ ] Three\n",
    );
    let refresh = plan.refresh();
    assert!(refresh.changed);
    assert_eq!(refresh.edited, std::slice::from_ref(&old));
    assert_eq!(
        plan.task(&old).unwrap().text,
        "Do NOT delete the staging database"
    );
    assert_eq!(
        plan.tasks()
            .iter()
            .map(|t| t.id.0.as_str())
            .collect::<Vec<_>>(),
        ["one", "delete-the-staging-database", "three"]
    );
    // Edited again, with a task added above it and its context changed: still the same.
    save(
        &path,
        "- [ ] Zero\n- [ ] One\n- [ ] Do NOT delete the staging db\n  really\n- [ ] Three\n",
    );
    let refresh = plan.refresh();
    assert_eq!(refresh.edited, std::slice::from_ref(&old));
    assert_eq!(plan.task(&old).unwrap().context, "really");
    assert!(plan.task(&tid("zero")).is_some());
    // The check mark lands on the line that holds the task now.
    plan.check_off(std::slice::from_ref(&old)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] Zero\n- [ ] One\n- [x] Do NOT delete the staging db\n  really\n- [ ] Three\n"
    );
    assert_eq!(plan.refresh(), Refresh::default(), "our own write");
}

#[test]
fn moved_explicit_and_reappearing_tasks_are_not_taken_for_edits() {
    let (_dir, path) = plan_file("- [ ] Alpha\n- [ ] Beta {#b}\n- [ ] Gamma\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // Gamma moves up and Alpha is replaced by a task with an explicit id.
    save(
        &path,
        "- [ ] Gamma\n- [ ] Other {#o}\n- [ ] Beta edited {#b}\n",
    );
    let refresh = plan.refresh();
    assert_eq!(refresh.edited, [tid("b")]);
    assert_eq!(
        plan.tasks()
            .iter()
            .map(|t| t.id.0.as_str())
            .collect::<Vec<_>>(),
        ["gamma", "o", "b"]
    );
    // Gamma is edited into Delta; then a new task with Gamma's old text comes: it is a
    // task of its own, and the edited one takes its own derived id.
    save(
        &path,
        "- [ ] Delta\n- [ ] Other {#o}\n- [ ] Beta edited {#b}\n",
    );
    assert_eq!(plan.refresh().edited, [tid("gamma")]);
    save(
        &path,
        "- [ ] Delta\n- [ ] Gamma\n- [ ] Other {#o}\n- [ ] Beta edited {#b}\n",
    );
    plan.refresh();
    assert_eq!(
        plan.tasks()
            .iter()
            .map(|t| t.id.0.as_str())
            .collect::<Vec<_>>(),
        ["delta", "gamma", "o", "b"]
    );
}

#[test]
fn a_symlinked_plan_stays_a_link_and_its_target_gets_the_marks() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real-plan.md");
    std::fs::write(&target, "- [ ] One\n- [ ] Two\n").unwrap();
    let link = dir.path().join("PLAN.md");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut plan = PlanFile::open(&link).unwrap();
    plan.check_off(&[tid("two")]).unwrap();
    plan.set_note(&tid("one"), "failed").unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "- [ ] One\n  ⚠ swarm: failed\n- [x] Two\n"
    );
    let litter = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(".swarm-plan-")
            })
            .count()
    };
    assert_eq!(litter(dir.path()) + litter(elsewhere.path()), 0);
}

#[test]
fn temp_files_left_by_a_killed_swarm_are_swept_at_open() {
    let (dir, path) = plan_file("- [ ] One\n");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let make = |name: &str, stale: bool| {
        let p = dir.path().join(name);
        std::fs::write(&p, "x").unwrap();
        if stale {
            let file = std::fs::File::options().write(true).open(&p).unwrap();
            file.set_modified(old).unwrap();
        }
        p
    };
    let stale = make(".swarm-plan-a1B2c3", true);
    let fresh = make(".swarm-plan-d4E5f6", false);
    let not_ours = make(".swarm-plan-notes.md", true);
    let also_not = make("swarm-plan-a1B2c3", true);
    PlanFile::open(&path).unwrap();
    assert!(!stale.exists(), "left by a kill -9 mid-write");
    assert!(fresh.exists(), "may be another process's write under way");
    assert!(not_ours.exists() && also_not.exists());
}

#[test]
fn a_context_line_indented_with_a_full_width_space_keeps_its_text() {
    let t = tasks("- [ ] Task\n  \u{3000}全角で字下げ\n    two more spaces\n");
    assert_eq!(t[0].context, "\u{3000}全角で字下げ\n  two more spaces");
    let t = tasks("- [ ] Task\n\u{3000}lazy line\n");
    assert_eq!(t[0].context, "\u{3000}lazy line");
}

/// A plan file in a fresh directory, for `load`.
fn write_plan(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PLAN.md");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_plan_without_tasks_is_an_error_that_shows_the_syntax() {
    for text in ["", "# Plan\n\nJust prose.\n", "```\n- [ ] fenced\n```\n"] {
        let (_dir, path) = write_plan(text);
        let err = load(&path).unwrap_err();
        assert!(matches!(err, PlanError::NoTasks { .. }), "{text:?}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(": no tasks found\nhint: a task is"),
            "{message}"
        );
        assert!(message.contains("`- [ ] "), "{message}");
    }
}

#[test]
fn mistyped_checkboxes_are_named_with_their_lines() {
    let text = "# Plan\n- [] one\n-[ ] two\n* [ ]x three\n- [  ] four\n[ ] five\n\
                - [link](x) and [ref]: y\n```\n-[ ] fenced\n```\n";
    let (_dir, path) = write_plan(text);
    let err = load(&path).unwrap_err();
    let PlanError::NoTasks {
        lookalikes: found, ..
    } = &err
    else {
        panic!("{err}");
    };
    let lines: Vec<usize> = found.iter().map(|l| l.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);
    assert!(
        err.to_string()
            .contains("PLAN.md:2: `- [] one` looks like a task, but is not one"),
        "{err}"
    );
    // Beside real tasks they are warnings.
    let text = "- [ ] real\n- [] typo\n  - [ ] nested real\n";
    let found = lookalikes(text, &tasks(text), Path::new("PLAN.md"));
    assert_eq!(found.len(), 1);
    insta::assert_snapshot!(found[0], @"
    warning: PLAN.md:2: `- [] typo` looks like a task, but is not one
    hint: a task is a list item with a checkbox: a `-`, a space, `[ ]` with one space inside, a space, then the text, as in `- [ ] Write docs/auth.md {out=docs/auth.md}`
    ");
}

#[test]
fn outputs_may_not_name_the_plan_swarm_or_git_files_or_leave_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    let (dir, path) = write_plan("");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::os::unix::fs::symlink(dir.path().join(".git"), dir.path().join("gitdir")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling")).unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    for (out, why) in [
        ("PLAN.md", "is the plan itself"),
        ("docs/../PLAN.md", "is the plan itself"),
        (".swarm/journal.jsonl", "is under .swarm/"),
        ("./.swarm/done/x", "is under .swarm/"),
        (".git/hooks/pre-commit", "is under .git/"),
        ("gitdir/hooks/pre-commit", "is under .git/"),
        (
            "escape/x.md",
            "leads out of the plan's directory through a symlink",
        ),
        (
            "dangling/x.md",
            "goes through the symlink `dangling`, which leads nowhere",
        ),
        ("../x.md", "leads out of the plan's directory"),
        ("/etc/x.md", "is an absolute path"),
    ] {
        std::fs::write(
            &path,
            format!("# Plan\n\n- [ ] ok {{out=docs/ok.md}}\n- [ ] bad {{out={out}}}\n"),
        )
        .unwrap();
        let err = load(&path).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(&err, PlanError::ForbiddenOutput { line: 4, .. }),
            "{out}: {message}"
        );
        let head = format!("{}:4: `{{out={out}}}` {why}", path.display());
        assert!(message.starts_with(&head), "{out}: {message}");
        assert!(message.contains("\nhint: "), "{message}");
    }
    std::fs::write(&path, "- [ ] fine {out=docs/new/dir/x.md}\n").unwrap();
    assert!(load(&path).is_ok());
}

#[test]
fn an_unreadable_plan_says_why_once_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(": cannot read the plan: Is a directory"),
        "{message}"
    );
    assert!(
        message.contains("hint: --plan takes the plan file"),
        "{message}"
    );
    assert!(
        std::error::Error::source(&err).is_none(),
        "the cause would repeat"
    );
    let looped = dir.path().join("loop.md");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let message = load(&looped).unwrap_err().to_string();
    assert!(
        message.contains("hint: a symlink on the way leads back"),
        "{message}"
    );
}

#[test]
fn attributes_say_what_a_task_waits_for_touches_and_who_does_it() {
    let t = tasks(
        "- [ ] Refactor src/login.ts {#login} {files=src/login.ts,src/session/**}
- [ ] Refactor src/logout.ts {after=login} {files=src/logout.ts,src/session/**}
- [ ] Write docs/auth.md {agent=local} {out=docs/auth.md}
- [ ] Release notes {#notes}
  - [ ] Collect the changes {#collect}
  - [ ] Draft the notes {after=collect}
    - [ ] A grandchild {#grand}
",
    );
    assert_eq!(t[0].files, ["src/login.ts", "src/session/**"]);
    assert_eq!(t[1].text, "Refactor src/logout.ts");
    assert_eq!(t[1].after, [tid("login")]);
    assert_eq!(t[2].agent.as_deref(), Some("local"));
    assert_eq!(t[2].output.as_deref(), Some("docs/auth.md"));
    // A parent waits for its own child tasks, not for their children.
    assert_eq!(t[3].children, [tid("collect"), tid("draft-the-notes")]);
    assert_eq!(t[5].children, [tid("grand")]);
    let waits: Vec<&TaskId> = t[5].waits_for().collect();
    assert_eq!(waits, [&tid("collect"), &tid("grand")]);
}

#[test]
fn an_unknown_dependency_is_a_plan_error_at_its_line() {
    let err = parse("- [ ] a\n- [ ] b {after=a,nope}\n", Path::new("PLAN.md")).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("PLAN.md:2: `after=nope`: no task has the id `nope`"),
        "{message}"
    );
    assert_eq!(
        crate::error::Classify::exit(&err),
        crate::error::Exit::BadInput
    );
}

#[test]
fn a_cycle_is_named_task_by_task_with_its_lines() {
    let text =
        "- [ ] a {#a after=c}\n- [ ] b {#b after=a}\n- [ ] c {#c after=b}\n- [ ] d {after=a}\n";
    let message = parse(text, Path::new("PLAN.md")).unwrap_err().to_string();
    assert!(
        message.starts_with(
            "PLAN.md:1: tasks wait for each other in a cycle: `a` (PLAN.md:1) waits for `c` (PLAN.md:3) waits for `b` (PLAN.md:2) waits for `a`"
        ),
        "{message}"
    );
    // A child that waits for its parent is a cycle too.
    let nested = "- [ ] parent {#p}\n  - [ ] child {#c after=p}\n";
    assert!(
        parse(nested, Path::new("PLAN.md"))
            .unwrap_err()
            .to_string()
            .contains("cycle: `p` (PLAN.md:1) waits for `c` (PLAN.md:2) waits for `p`")
    );
}

#[test]
fn a_cycle_saved_mid_run_is_reported_and_the_last_good_plan_stays() {
    let (_dir, path) = plan_file("- [ ] One {#one}\n- [ ] Two {#two after=one}\n");
    let mut plan = PlanFile::open(&path).unwrap();
    write_in_place(
        &path,
        "- [ ] One {#one after=two}\n- [ ] Two {#two after=one}\n",
    );
    let refresh = plan.refresh();
    assert!(!refresh.changed);
    let problem = refresh.problem.expect("reported");
    assert!(
        problem.contains("PLAN.md:1: tasks wait for each other in a cycle"),
        "{problem}"
    );
    assert_eq!(
        plan.tasks()[0].after,
        Vec::<TaskId>::new(),
        "the last good plan"
    );
}

#[test]
fn a_dependency_follows_a_task_whose_text_a_person_edits() {
    let (_dir, path) = plan_file("- [ ] Collect\n- [ ] Draft {after=collect}\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // The derived id changes with the text; the run keeps the old one, and so must
    // whatever waits for it.
    save(
        &path,
        "- [ ] Collect more\n- [ ] Draft {after=collect-more}\n",
    );
    assert!(plan.refresh().changed);
    assert_eq!(plan.tasks()[0].id, tid("collect"));
    assert_eq!(plan.tasks()[1].after, [tid("collect")]);
}

#[test]
fn an_added_task_goes_last_and_keeps_a_persons_edit_made_meanwhile() {
    let (_dir, path) = plan_file("# Plan\n- [ ] One\n- [x] Two");
    let mut plan = PlanFile::open(&path).unwrap();
    // A person saves while swarm holds the old text: the task is added to their text.
    save(
        &path,
        "# Plan\n- [ ] One\n  their context\n- [x] Two\n- [ ] Theirs\n",
    );
    assert_eq!(plan.add_task("Mine {#mine}").unwrap(), Some(tid("mine")));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# Plan\n- [ ] One\n  their context\n- [x] Two\n- [ ] Theirs\n- [ ] Mine {#mine}\n"
    );
    assert_cache_is_the_file(&plan);
}

#[test]
fn an_added_task_waits_until_a_persons_save_has_settled() {
    let (_dir, path) = plan_file("- [ ] One\r\n- [ ] Two\r\n");
    let mut plan = PlanFile::open(&path).unwrap();
    // Just written, cut short: the editor may still be writing the rest.
    write_in_place(&path, "- [ ] One\r\n");
    assert_eq!(plan.add_task("Added by an agent").unwrap(), None);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "- [ ] One\r\n");
    write_in_place(&path, "- [ ] One\r\n- [ ] Two\r\n- [ ] Theirs\r\n");
    let added = add_task(&path, "Added by an agent", SETTLE * 20).unwrap();
    assert_eq!(added, Some(tid("added-by-an-agent")));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "- [ ] One\r\n- [ ] Two\r\n- [ ] Theirs\r\n- [ ] Added by an agent\r\n"
    );
}

#[test]
fn a_task_that_would_break_the_plan_is_refused_and_nothing_is_written() {
    let text = "- [ ] One {#one}\n";
    let (_dir, path) = plan_file(text);
    save(&path, text);
    for bad in ["Two {after=nope}", "Two {out=../outside.md}", "One {#one}"] {
        let err = add_task(&path, bad, SETTLE).unwrap_err();
        assert!(err.to_string().contains("PLAN.md:2"), "{bad}: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{bad}");
    }
}

#[test]
fn a_save_that_breaks_the_runs_own_rule_keeps_the_last_good_plan() {
    let (_dir, path) = plan_file("- [ ] One\n");
    let mut plan = PlanFile::open(&path).unwrap();
    plan.check_with(Box::new(|tasks| {
        match tasks.iter().find(|t| t.agent.is_some()) {
            Some(t) => Err(format!("PLAN.md:{}: no pool for it", t.line)),
            None => Ok(()),
        }
    }));
    write_in_place(&path, "- [ ] One\n- [ ] Two {agent=codex}\n");
    let refresh = plan.refresh();
    assert!(!refresh.changed);
    assert_eq!(
        refresh.problem.as_deref(),
        Some("PLAN.md:2: no pool for it")
    );
    assert_eq!(ids(plan.text()), ["one"], "the last good plan stays");
    write_in_place(&path, "- [ ] One\n- [ ] Two\n");
    assert!(plan.refresh().changed);
}
