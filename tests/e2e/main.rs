//! End-to-end tests of the real `sillok` binary, each in a fresh data directory,
//! with the real small models fetched by `installer/fetch-models.sh`.

mod util;

mod ask;
mod audit;
mod bench;
mod clinical;
mod data_version;
mod egress;
mod export;
mod generate;
mod hostile;
mod hybrid;
mod library;
mod model_bundle;
mod models;
mod ocr;
mod policy;
mod trace;
mod vault;
mod watch;
