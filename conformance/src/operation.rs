//! The 17 storage operations by name, for tables, tags and regression files.

use serde::{Deserialize, Serialize};

/// One of the 17 operations of durable-execution's `TaskExecutionsStorage`.
///
/// The names are the public Convex function names (SPEC.md section 5), because those are the
/// names a person sees in emulator logs and in the deployment's dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

impl Operation {
    /// Every operation, in SPEC.md's order.
    pub const ALL: [Operation; 17] = [
        Self::InsertMany,
        Self::GetManyById,
        Self::GetManyBySleepingTaskUniqueId,
        Self::UpdateManyById,
        Self::UpdateManyByIdAndInsertChildrenIfUpdated,
        Self::UpdateByStatusAndStartAtLessThanAndReturn,
        Self::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn,
        Self::UpdateByCloseStatusAndReturn,
        Self::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
        Self::UpdateByOCFPExpiresAt,
        Self::UpdateByCloseExpiresAt,
        Self::UpdateByExecutorIdAndNPCAndReturn,
        Self::GetManyByParentExecutionId,
        Self::UpdateManyByParentExecutionIdAndIsFinished,
        Self::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
        Self::DeleteById,
        Self::DeleteAll,
    ];

    /// The public function name, as in `taskExecutionsStorage:<name>`.
    pub fn public_name(self) -> &'static str {
        match self {
            Self::InsertMany => "insertMany",
            Self::GetManyById => "getManyById",
            Self::GetManyBySleepingTaskUniqueId => "getManyBySleepingTaskUniqueId",
            Self::UpdateManyById => "updateManyById",
            Self::UpdateManyByIdAndInsertChildrenIfUpdated => {
                "updateManyByIdAndInsertChildrenIfUpdated"
            }
            Self::UpdateByStatusAndStartAtLessThanAndReturn => {
                "updateByStatusAndStartAtLessThanAndReturn"
            }
            Self::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn => {
                "updateByStatusAndOCFPStatusAndACCZeroAndReturn"
            }
            Self::UpdateByCloseStatusAndReturn => "updateByCloseStatusAndReturn",
            Self::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
                "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan"
            }
            Self::UpdateByOCFPExpiresAt => "updateByOCFPExpiresAt",
            Self::UpdateByCloseExpiresAt => "updateByCloseExpiresAt",
            Self::UpdateByExecutorIdAndNPCAndReturn => "updateByExecutorIdAndNPCAndReturn",
            Self::GetManyByParentExecutionId => "getManyByParentExecutionId",
            Self::UpdateManyByParentExecutionIdAndIsFinished => {
                "updateManyByParentExecutionIdAndIsFinished"
            }
            Self::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus => {
                "updateAndDecrementParentACCByIsFinishedAndCloseStatus"
            }
            Self::DeleteById => "deleteById",
            Self::DeleteAll => "deleteAll",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.public_name())
    }
}
