/**
 * Data model types of the component, derived from its schema.
 *
 * Hand-written stand-in for Convex codegen output: codegen of a component needs a
 * deployment, and these few lines are all our code needs. `npx convex dev` overwrites this
 * folder with equivalent generated files.
 */
import type {
  DataModelFromSchemaDefinition,
  DocumentByName,
  SystemTableNames,
  TableNamesInDataModel,
} from 'convex/server'
import type { GenericId } from 'convex/values'

import type schema from '../schema.js'

export type DataModel = DataModelFromSchemaDefinition<typeof schema>
export type TableNames = TableNamesInDataModel<DataModel>
export type Doc<TableName extends TableNames> = DocumentByName<DataModel, TableName>
export type Id<TableName extends TableNames | SystemTableNames> = GenericId<TableName>
