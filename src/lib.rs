//! rsearch: passage-level full-text search over a folder of articles, with passages labelled
//! by role and topic. The pipeline, one module a stage:
//! `corpus` → `segment` → `label` → `index` → `search` → `output`, driven by `commands`;
//! `prepare` is the read → segment → label step the index, `sections` and `export` share;
//! `export` and `remote` take passages to other engines.
//! `serve` answers the same searches over HTTP.

pub mod cli;
pub mod commands;
pub mod corpus;
pub mod embed;
pub mod export;
pub mod index;
pub mod label;
pub mod model;
pub mod output;
pub mod prepare;
pub mod progress;
pub mod remote;
pub mod search;
pub mod segment;
pub mod serve;
