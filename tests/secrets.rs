//! No secret (access token, upload token, session URL) appears in the `Debug` or `Display` output
//! of the upload machine, its requests, its errors, or the job's events and journal records.

mod support;

use std::fmt::Write;
use std::time::Instant;

use gphotos_upload::job::{FileKey, Job, JobAction, JobConfig, JobEvent, JobFile, Now, Record};
use gphotos_upload::{AccessToken, Action, MediaFile, Upload, UploadConfig, UploadToken};
use support::{FakeServer, Outcome, endpoint};

const SESSION_MARK: &str = "/upload/";
const TOKEN_MARK: &str = "token-";

fn assert_clean(text: &str) {
    assert!(!text.contains(SESSION_MARK), "session URL leaked: {text}");
    assert!(!text.contains(TOKEN_MARK), "upload token leaked: {text}");
    assert!(!text.contains("ya29"), "access token leaked: {text}");
}

#[test]
fn upload_machine_requests_and_outcome_hide_secrets() {
    let file = MediaFile {
        size: 3000,
        mime_type: "image/jpeg".into(),
        file_name: None,
    };
    let config = UploadConfig {
        chunk_size: 1024,
        ..UploadConfig::default()
    };
    let mut upload = Upload::new(endpoint(), file, config).unwrap();
    let mut server = FakeServer::new(1024, vec![]);
    let now = Instant::now();
    loop {
        let action = upload.poll_action(now);
        assert_clean(&format!("{action:?} {upload:?}"));
        match action {
            Action::Send(t) => {
                let id = t.id;
                let request = t.authorize(Some(&AccessToken::new("ya29.secret")));
                // The header is marked sensitive, so http's own Debug hides it too.
                assert_clean(&format!("{:?}", request.headers()));
                let Outcome::Reply(reply) = server.handle(&request) else {
                    unreachable!()
                };
                upload.handle_response(now, id, &reply).unwrap();
            }
            Action::Done(token) => {
                assert!(token.expose().starts_with(TOKEN_MARK));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn job_events_and_journal_records_hide_secrets() {
    let files = vec![JobFile {
        key: FileKey {
            path: "/p/a.jpg".into(),
            size: 10,
            modified: 0,
        },
        mime_type: "image/jpeg".into(),
        file_name: Some("a.jpg".into()),
        description: None,
    }];
    let now = Now {
        instant: Instant::now(),
        unix: 1_800_000_000,
    };
    let mut job = Job::new(endpoint(), files, JobConfig::default(), &[], now);
    let mut server = FakeServer::new(1024, vec![]);
    let mut shown = String::new();
    loop {
        let action = job.poll_action(now);
        write!(shown, "{action:?}").unwrap();
        while let Some(event) = job.poll_event() {
            if let JobEvent::Journal(Record::Uploaded { token, .. }) = &event {
                assert!(
                    token.expose().starts_with(TOKEN_MARK),
                    "the journal holds the token itself"
                );
            }
            write!(shown, "{event:?}").unwrap();
        }
        match action {
            JobAction::Send(t) => {
                let id = t.transmit.id;
                let Outcome::Reply(reply) = server.handle(&t.transmit.authorize(None)) else {
                    unreachable!()
                };
                job.handle_response(now, id, &reply).unwrap();
            }
            JobAction::Finished => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(shown.contains("Created"), "{shown}");
    assert_clean(&shown);
    assert_clean(&format!("{:?}", UploadToken::new("token-x")));
}
