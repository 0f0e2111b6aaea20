//! Sans-IO core of `gphotos-upload`: state machines for Google Photos uploads.
