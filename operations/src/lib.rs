//! The 17 storage operations of durable-execution's `TaskExecutionsStorage`, as the Convex
//! storage module exposes them: the one list the emulator's dispatch, the adapter's client,
//! the conformance suite and the bench derive from.
//!
//! Each operation is one row of [`TABLE`]: its public function name and what kind of Convex
//! function it is. Everything else is derived from that row, so adding an operation here makes
//! the compiler point at every exhaustive `match` that must learn it (docs: ARCHITECTURE.md,
//! "Adding a storage operation"). `tests/typescript_list.rs` fails when the TypeScript list
//! (`convex/definitions/operations.ts`) disagrees with this one.
//!
//! This crate knows no HTTP, no database and no request shapes: only names and kinds.

use std::fmt;

/// One of the 17 operations, named after its public function (`taskExecutionsStorage:<name>`),
/// because that is the name a person sees in the emulator's logs and a deployment's dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Operation {
    InsertMany,
    GetManyById,
    GetManyBySleepingTaskUniqueId,
    UpdateManyById,
    UpdateManyByIdAndInsertChildrenIfUpdated,
    UpdateByStatusAndStartAtLessThanAndReturn,
    UpdateByStatusAndOCFPStatusAndACCZeroAndReturn,
    UpdateByCloseStatusAndReturn,
    UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
    UpdateByOCFPExpiresAt,
    UpdateByCloseExpiresAt,
    UpdateByExecutorIdAndNPCAndReturn,
    GetManyByParentExecutionId,
    UpdateManyByParentExecutionIdAndIsFinished,
    UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
    DeleteById,
    DeleteAll,
}

/// How a public function is registered, and so which endpoint (`/api/query`, `/api/mutation`,
/// `/api/action`) may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

/// One row of the registry.
#[derive(Debug, Clone, Copy)]
pub struct OperationSpec {
    pub operation: Operation,
    /// The exported name: the part after `:` in `taskExecutionsStorage:<name>`.
    pub name: &'static str,
    /// What the public function is.
    pub kind: FunctionKind,
    /// Whether the public function is one of upstream's `actionWithLock` selectors: it takes a
    /// named lock before anything else and answers a default at once when the lock is busy.
    pub locked: bool,
}

const fn row(
    operation: Operation,
    name: &'static str,
    kind: FunctionKind,
    locked: bool,
) -> OperationSpec {
    OperationSpec {
        operation,
        name,
        kind,
        locked,
    }
}

use FunctionKind::{Action, Mutation, Query};
use Operation as Op;

/// The registry, in the order the storage interface declares the operations (docs/SPEC.md
/// section 5). Row `i` describes the operation whose discriminant is `i`; a test checks it.
pub const TABLE: [OperationSpec; 17] = [
    row(Op::InsertMany, "insertMany", Mutation, false),
    row(Op::GetManyById, "getManyById", Query, false),
    row(
        Op::GetManyBySleepingTaskUniqueId,
        "getManyBySleepingTaskUniqueId",
        Query,
        false,
    ),
    row(Op::UpdateManyById, "updateManyById", Action, false),
    row(
        Op::UpdateManyByIdAndInsertChildrenIfUpdated,
        "updateManyByIdAndInsertChildrenIfUpdated",
        Action,
        false,
    ),
    row(
        Op::UpdateByStatusAndStartAtLessThanAndReturn,
        "updateByStatusAndStartAtLessThanAndReturn",
        Action,
        true,
    ),
    row(
        Op::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn,
        "updateByStatusAndOCFPStatusAndACCZeroAndReturn",
        Action,
        true,
    ),
    row(
        Op::UpdateByCloseStatusAndReturn,
        "updateByCloseStatusAndReturn",
        Action,
        true,
    ),
    row(
        Op::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
        "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan",
        Action,
        true,
    ),
    row(
        Op::UpdateByOCFPExpiresAt,
        "updateByOCFPExpiresAt",
        Action,
        true,
    ),
    row(
        Op::UpdateByCloseExpiresAt,
        "updateByCloseExpiresAt",
        Action,
        true,
    ),
    row(
        Op::UpdateByExecutorIdAndNPCAndReturn,
        "updateByExecutorIdAndNPCAndReturn",
        Action,
        true,
    ),
    row(
        Op::GetManyByParentExecutionId,
        "getManyByParentExecutionId",
        Query,
        false,
    ),
    row(
        Op::UpdateManyByParentExecutionIdAndIsFinished,
        "updateManyByParentExecutionIdAndIsFinished",
        Action,
        false,
    ),
    row(
        Op::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
        "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
        Action,
        true,
    ),
    row(Op::DeleteById, "deleteById", Mutation, false),
    row(Op::DeleteAll, "deleteAll", Action, false),
];

impl Operation {
    /// Every operation, in the registry's order.
    pub const ALL: [Operation; 17] = {
        let mut all = [Op::InsertMany; 17];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].operation;
            i += 1;
        }
        all
    };

    /// This operation's row of [`TABLE`].
    pub const fn spec(self) -> &'static OperationSpec {
        &TABLE[self as usize]
    }

    /// The public function's exported name.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// What the public function is registered as.
    pub const fn kind(self) -> FunctionKind {
        self.spec().kind
    }

    /// Whether it is one of the eight locked selectors.
    pub const fn is_locked(self) -> bool {
        self.spec().locked
    }

    /// The operation with this exported name (exact, case-sensitive, as Convex resolves paths).
    pub fn from_name(name: &str) -> Option<Self> {
        TABLE.iter().find(|s| s.name == name).map(|s| s.operation)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FunctionKind {
    /// The endpoint segment: `/api/<endpoint>`.
    pub const fn endpoint(self) -> &'static str {
        match self {
            Query => "query",
            Mutation => "mutation",
            Action => "action",
        }
    }
}

/// As Convex capitalizes it in messages ("Trying to execute ... as Mutation, but it is
/// defined as Action.").
impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Query => "Query",
            Mutation => "Mutation",
            Action => "Action",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_i_is_the_operation_with_discriminant_i() {
        for (i, spec) in TABLE.iter().enumerate() {
            assert_eq!(spec.operation as usize, i, "{}", spec.name);
        }
    }

    #[test]
    fn names_are_unique_and_resolve_back() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(Operation::from_name("InsertMany"), None);
    }

    #[test]
    fn eight_are_locked_selectors_and_all_of_them_are_actions() {
        let locked: Vec<_> = Operation::ALL.iter().filter(|o| o.is_locked()).collect();
        assert_eq!(locked.len(), 8);
        assert!(locked.iter().all(|o| o.kind() == Action));
    }
}
