//! The journal file on its own: records survive a reopen, a torn last line is cut off before the
//! next append, a second opening is refused, synced records are in the file when `append`
//! returns, a damaged journal is left alone, and a new journal is private.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use gphotos_upload_ureq::job::{FileKey, Record};
use gphotos_upload_ureq::{Journal, JournalOpenError};

fn key(path: &str) -> FileKey {
    FileKey {
        path: path.into(),
        size: 7,
        modified: 1,
    }
}

/// Must be synced.
fn creating(path: &str) -> Record {
    Record::Creating {
        files: vec![key(path)],
    }
}

/// Needs no sync of its own.
fn created(path: &str) -> Record {
    Record::Created {
        file: key(path),
        media_item_id: format!("item-{path}"),
    }
}

/// Appends raw bytes behind the journal's back, as a process killed mid-write leaves them.
fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

fn reopened(path: &Path) -> Vec<Record> {
    Journal::open(path).unwrap().records().to_vec()
}

#[test]
fn records_come_back_in_order_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/journals/job.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    assert!(journal.records().is_empty(), "a new journal is empty");
    assert_eq!(journal.path(), path);
    journal.append(&created("a")).unwrap();
    journal
        .append_all(&[creating("b"), created("b"), created("c")])
        .unwrap();
    drop(journal);

    let mut journal = Journal::open(&path).unwrap();
    let expected = vec![created("a"), creating("b"), created("b"), created("c")];
    assert_eq!(journal.records(), expected);
    assert_eq!(journal.take_records(), expected);
    assert!(journal.records().is_empty(), "taken");
}

#[test]
fn appended_records_are_in_the_file_when_append_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    journal.append_all(&[created("a"), creating("b")]).unwrap();
    // Read while the journal is still open (a crash now would not lose them).
    let text = std::fs::read(&path).unwrap();
    assert_eq!(
        Record::parse_journal(&text).unwrap(),
        vec![created("a"), creating("b")]
    );
    assert!(text.ends_with(b"\n"));
}

#[test]
fn a_torn_last_line_is_ignored_and_cut_off_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.jsonl");
    Journal::open(&path)
        .unwrap()
        .append(&creating("a"))
        .unwrap();
    append_raw(&path, b"{\"record\":\"crea");

    let mut journal = Journal::open(&path).unwrap();
    assert_eq!(journal.records(), [creating("a")]);
    journal.append_all(&[created("a"), created("b")]).unwrap();
    drop(journal);
    // Had the new records been glued onto the torn line, it would now be a damaged middle line.
    assert_eq!(
        reopened(&path),
        vec![creating("a"), created("a"), created("b")]
    );
}

#[test]
fn a_whole_last_record_without_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.jsonl");
    let mut line = creating("a").to_line();
    assert_eq!(line.pop(), Some(b'\n'));
    std::fs::write(&path, &line).unwrap();

    let mut journal = Journal::open(&path).unwrap();
    assert_eq!(journal.records(), [creating("a")]);
    journal.append(&created("a")).unwrap();
    drop(journal);
    assert_eq!(reopened(&path), vec![creating("a"), created("a")]);
}

#[test]
fn a_damaged_journal_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.jsonl");
    let mut text = created("a").to_line();
    text.extend_from_slice(b"not a record\n");
    text.extend_from_slice(&created("b").to_line());
    text.extend_from_slice(b"{\"torn");
    std::fs::write(&path, &text).unwrap();

    let error = Journal::open(&path).unwrap_err();
    match &error {
        JournalOpenError::Damaged { path: at, error } => {
            assert_eq!(at, &path);
            assert_eq!(error.line, 2);
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(error.to_string().contains("move it aside"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), text, "nothing was cut");
}

#[cfg(unix)]
#[test]
fn a_second_open_is_refused_while_the_first_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.jsonl");
    let mut first = Journal::open(&path).unwrap();
    first.append(&creating("a")).unwrap();

    let error = Journal::open(&path).unwrap_err();
    assert!(
        matches!(&error, JournalOpenError::InUse { path: at } if *at == path),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("in use by another run") && message.contains("wait for it to finish"),
        "{message}"
    );
    // The holder is unharmed and keeps writing.
    first.append(&created("a")).unwrap();
    drop(first);
    assert_eq!(
        reopened(&path),
        vec![creating("a"), created("a")],
        "free again once the holder is gone"
    );
}

#[cfg(unix)]
#[test]
fn a_new_journal_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/job.jsonl");
    drop(Journal::open(&path).unwrap());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&path),
        0o600,
        "it holds upload tokens and session URLs"
    );
    assert_eq!(mode(path.parent().unwrap()) & 0o077, 0, "its new directory");
}
