//! End-to-end tests of the real `sillok` binary, each in a fresh data directory,
//! with the real small models fetched by `installer/fetch-models.sh`.

mod util;

mod ask;
mod audit;
mod bench;
mod clinical;
mod egress;
mod generate;
mod hybrid;
mod library;
mod models;
mod ocr;
mod trace;
mod vault;
mod watch;
