//! rsearch: passage-level full-text search over a folder of articles, with passages labelled
//! by role and topic. The pipeline, one module a stage:
//! `corpus` → `segment` → `label` → `index` → `search` → `output`, driven by `commands`.

pub mod cli;
pub mod commands;
pub mod corpus;
pub mod index;
pub mod label;
pub mod model;
pub mod output;
pub mod search;
pub mod segment;
