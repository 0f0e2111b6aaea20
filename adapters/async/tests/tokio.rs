//! The end-to-end scenarios on tokio's multi-threaded runtime with the ready hyper transport.

#![cfg(feature = "hyper")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use gphotos_upload::AccessToken;
use gphotos_upload_async::{DriveError, Driver, HyperTransport, StaticToken, TokioFile};
use support::{Observed, Signal, scenarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path() {
    scenarios::happy_path(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_fails_mid_chunk() {
    scenarios::source_fails_mid_chunk(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_unavailable() {
    scenarios::server_unavailable(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_with_retry_after() {
    scenarios::throttled_with_retry_after(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection() {
    scenarios::dropped_connection(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session() {
    scenarios::expired_session(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_token_is_refreshed() {
    scenarios::refused_token_is_refreshed(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_static_token_resumes_later() {
    scenarios::refused_static_token_resumes_later(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_quota_stops() {
    scenarios::daily_quota_stops(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_files_eight_at_a_time() {
    scenarios::many_files(HyperTransport::new(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_files_under_random_faults() {
    scenarios::many_files(HyperTransport::new(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_batch_create_is_resolved() {
    scenarios::ambiguous_batch_create_is_resolved(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_refresh_through_the_token_endpoint() {
    scenarios::oauth_refresh_through_the_token_endpoint(HyperTransport::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_many_files() {
    scenarios::job_many_files(HyperTransport::new(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_many_files_under_random_faults() {
    scenarios::job_many_files(HyperTransport::new(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_resumes_from_its_journal() {
    scenarios::job_resumes_from_its_journal(HyperTransport::new()).await;
}

/// The third chunk is handed to hyper and the server sits on it (it stalls before answering); the
/// driver future is dropped while the request is in flight.
async fn drop_mid_chunk(snapshot: bool) {
    let reached = Signal::default();
    let transport = Observed::new(HyperTransport::new());
    *transport.tally.body_signal.lock().unwrap() = Some((3, reached.clone()));
    let stop = async move {
        reached.wait().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    scenarios::resume_after_drop(transport, Some("upload@3:stall=1500ms"), stop, snapshot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_drop_mid_chunk() {
    drop_mid_chunk(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_snapshot_after_drop_mid_chunk() {
    drop_mid_chunk(true).await;
}

/// The driver future is `Send` with the hyper transport: uploads can be spawned as tasks that share
/// one transport and one authorizer, and they stream real files through tokio's file API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_uploads_of_files_on_disk() {
    let emu = scenarios::emulator();
    let dir = std::env::temp_dir().join(format!("gphotos-async-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let transport = Arc::new(HyperTransport::new());
    let auth = Arc::new(StaticToken(AccessToken::new("test-access-token")));
    let mut tasks = Vec::new();
    let mut files = Vec::new();
    for i in 0..2u64 {
        let name = format!("spawned-{i}.jpg");
        let bytes = scenarios::data(7 * scenarios::GRANULE + 5, 9 + i);
        let path = dir.join(&name);
        std::fs::write(&path, &bytes).unwrap();
        let mut upload = scenarios::machine(&emu, &name, bytes.len(), 9 + i);
        let driver = Driver::new(Arc::clone(&transport), Arc::clone(&auth));
        tasks.push(tokio::spawn(async move {
            let result = driver.upload(&mut upload, TokioFile::new(&path)).await;
            (result, upload)
        }));
        files.push((name, bytes));
    }
    for (task, (_, bytes)) in tasks.into_iter().zip(&files) {
        let (result, upload) = task.await.expect("the task ran");
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(upload.progress().confirmed, bytes.len() as u64);
    }
    scenarios::assert_stored(&emu, &files);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `TokioFile` streams a file of several chunks from disk in frames, and a file that turns out
/// shorter than its upload (it shrank on disk) stops the upload with the explained source error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_file_streams_and_reports_a_shrunken_file() {
    let emu = scenarios::emulator();
    let dir = std::env::temp_dir().join(format!("gphotos-async-shrunk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = scenarios::data(2 * scenarios::LARGE_CHUNK + 999, 31);
    let path = dir.join("whole.jpg");
    std::fs::write(&path, &bytes).unwrap();
    let driver = Driver::new(
        HyperTransport::new(),
        StaticToken(AccessToken::new("test-access-token")),
    );
    let config = |seed| gphotos_upload::UploadConfig {
        chunk_size: scenarios::LARGE_CHUNK as u64,
        retry: scenarios::quick_retry(),
        seed,
        ..gphotos_upload::UploadConfig::default()
    };
    let endpoint = gphotos_upload::Endpoint::parse(&emu.base_url()).unwrap();
    let media = |name: &str| gphotos_upload::MediaFile {
        size: bytes.len() as u64,
        mime_type: "image/jpeg".into(),
        file_name: Some(name.into()),
    };
    let mut upload = gphotos_upload::Upload::new(endpoint.clone(), media("whole.jpg"), config(31))
        .expect("a valid upload");
    let result = driver.upload(&mut upload, TokioFile::new(&path)).await;
    assert!(result.is_ok(), "{result:?}");
    scenarios::assert_stored(&emu, &[("whole.jpg".into(), bytes.clone())]);

    let short = dir.join("short.jpg");
    std::fs::write(&short, &bytes[..scenarios::LARGE_CHUNK + 12_345]).unwrap();
    let mut upload = gphotos_upload::Upload::new(endpoint, media("short.jpg"), config(32))
        .expect("a valid upload");
    let result = driver.upload(&mut upload, TokioFile::new(&short)).await;
    match &result {
        Err(DriveError::Source(error)) => {
            assert!(error.to_string().contains("changed on disk"), "{error}");
        }
        other => panic!("expected the source's error, got {other:?}"),
    }
    assert_eq!(
        emu.inspect().objects.len(),
        1,
        "no object from the short file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
