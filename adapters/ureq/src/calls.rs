//! The Library calls (`batchCreate`, `mediaItems.get`, albums, the simple upload), each run by the
//! core's [`Call`] machine: poll, perform, feed back.

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use gphotos_upload::UploadToken;
use gphotos_upload::library::{
    AddToAlbum, Album, BatchCreate, BatchCreated, Call, CallAction, CreateAlbum, Destination,
    GetMediaItem, LibraryError, LibraryRequest, MediaItem, NewMediaItem, SimpleUpload,
};

use crate::drive::{Authorizer, sleep_until};
use crate::transport::{Failure, ReadSeek, Transport};
use crate::{Client, Credentials, Error, client};

/// Runs one call to its end. `source` serves a request whose body is a range of a file (the simple
/// upload); `path` names that file in errors.
pub(crate) fn run<R: LibraryRequest>(
    transport: &Transport,
    credentials: &Credentials,
    call: &mut Call<R>,
    mut source: Option<&mut dyn ReadSeek>,
    path: Option<&Path>,
) -> Result<R::Output, Error> {
    let mut auth = Authorizer::new(credentials);
    loop {
        match call.poll_action(Instant::now()) {
            CallAction::Send(transmit) => {
                let id = transmit.id;
                let request = auth.authorize(transmit)?;
                let source = source.as_mut().map(|s| &mut **s as &mut dyn ReadSeek);
                let outcome = transport.perform(request, source, &mut |_| {});
                match outcome {
                    Ok(reply) => call.handle_response(Instant::now(), id, &reply)?,
                    Err(Failure::Unsent(what)) => call.handle_unsent(Instant::now(), id, &what)?,
                    Err(Failure::Network(what)) => {
                        call.handle_transport_error(Instant::now(), id, &what)?;
                    }
                    Err(Failure::Source(error)) => {
                        return Err(Error::source_io(path.map(Path::to_path_buf), error));
                    }
                    Err(Failure::NoSource) => {
                        return Err(Error::misuse("a call that sends file bytes needs a source"));
                    }
                }
            }
            CallAction::WaitUntil(until) => sleep_until(until),
            CallAction::RefreshToken => {
                auth.refresh()?;
                call.token_refreshed();
            }
            CallAction::Done(output) => return Ok(output),
            CallAction::Failed(error) => return Err(Error::Library(error)),
            CallAction::Ambiguous(ambiguity) => return Err(Error::Ambiguous(ambiguity)),
            CallAction::AwaitReply => {
                return Err(Error::misuse(
                    "the call has a request in flight elsewhere; drive each call from one place",
                ));
            }
        }
    }
}

fn invalid(error: impl Into<LibraryError>) -> Error {
    Error::Library(error.into())
}

impl Client {
    /// Runs any Library call whose body is built in memory (every call but the simple upload)
    /// under the client's retry policy, and returns its result.
    ///
    /// # Errors
    /// [`Error::Library`] when the call failed (nothing was done), [`Error::Ambiguous`] when a call
    /// that must not be repeated blindly may or may not have taken effect.
    pub fn call<R: LibraryRequest>(&self, request: R) -> Result<R::Output, Error> {
        let mut call = self.new_call(request);
        run(self.transport(), self.credentials(), &mut call, None, None)
    }

    /// Creates media items from upload tokens with one `mediaItems:batchCreate` call (at most 50
    /// items; [`BatchCreate::split`] cuts longer lists into calls). The reply says item by item
    /// what happened: an item exists only if its outcome is
    /// [`gphotos_upload::library::ItemOutcome::Created`].
    ///
    /// ```no_run
    /// # use gphotos_upload_ureq::{Client, Credentials, Endpoint};
    /// use gphotos_upload::library::{Destination, NewMediaItem};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::new(Endpoint::google(), Credentials::bearer("t"))?;
    /// let token = client.upload_file("photo.jpg")?;
    /// let item = NewMediaItem::new(token).with_file_name("photo.jpg");
    /// let created = client.create_media_items(vec![item], &Destination::library())?;
    /// for (_, media_item) in created.created() {
    ///     println!("created {}", media_item.id);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Library`] for invalid items (none sent) or a failed call; [`Error::Ambiguous`]
    /// when the call may have created items: re-send the same items with
    /// [`BatchCreate::after_ambiguous`] through [`Client::call`] (tokens are single-use, so no
    /// duplicate can come of it).
    pub fn create_media_items(
        &self,
        items: Vec<NewMediaItem>,
        destination: &Destination,
    ) -> Result<BatchCreated, Error> {
        let request = BatchCreate::new(items, destination).map_err(invalid)?;
        self.call(request)
    }

    /// Reads a media item this app created (needs the `photoslibrary.readonly.appcreateddata`
    /// scope).
    ///
    /// # Errors
    /// [`Error::Library`] for an invalid id or a failed call.
    pub fn get_media_item(&self, id: &str) -> Result<MediaItem, Error> {
        self.call(GetMediaItem::new(id).map_err(invalid)?)
    }

    /// Creates an album.
    ///
    /// # Errors
    /// [`Error::Library`] for an invalid title or a failed call; [`Error::Ambiguous`] when the
    /// album may have been created (look for it before creating another).
    pub fn create_album(&self, title: &str) -> Result<Album, Error> {
        self.call(CreateAlbum::new(title).map_err(invalid)?)
    }

    /// Adds media items (at most 50) to an album this app created.
    ///
    /// # Errors
    /// [`Error::Library`] for invalid ids or a failed call; [`Error::Ambiguous`] when the items may
    /// have been added.
    pub fn add_to_album(&self, album_id: &str, media_item_ids: Vec<String>) -> Result<(), Error> {
        self.call(AddToAlbum::new(album_id, media_item_ids).map_err(invalid)?)
    }

    /// Uploads a small file in one request (`X-Goog-Upload-Protocol: raw`) and returns its upload
    /// token. A fault re-sends the whole file, so keep it for files up to about one chunk; use
    /// [`Client::upload_file`] for anything larger.
    ///
    /// # Errors
    /// As [`Client::upload_file`], with [`Error::Library`] for a failed call.
    pub fn upload_file_simple(&self, path: impl AsRef<Path>) -> Result<UploadToken, Error> {
        let path = path.as_ref();
        let (mut file, media): (File, _) = client::open_media(path)?;
        let request = SimpleUpload::new(&media).map_err(invalid)?;
        let mut call = self.new_call(request);
        run(
            self.transport(),
            self.credentials(),
            &mut call,
            Some(&mut file),
            Some(path),
        )
    }

    fn new_call<R: LibraryRequest>(&self, request: R) -> Call<R> {
        Call::new(
            self.endpoint().clone(),
            request,
            self.upload_config().retry,
            self.next_seed(),
        )
    }
}
