//! The 17 storage operations, from the workspace's one registry (`operations/`): the suite's
//! tables, tags and regression files name them by their public function names.

pub use convex_storage_operations::Operation;
