/**
 * Function builders of the component (hand-written stand-in for codegen output; see
 * dataModel.d.ts).
 */
export {
  actionGeneric as action,
  internalActionGeneric as internalAction,
  internalMutationGeneric as internalMutation,
  internalQueryGeneric as internalQuery,
  mutationGeneric as mutation,
  queryGeneric as query,
} from 'convex/server'
