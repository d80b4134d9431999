/**
 * The app: it mounts the storage component under the name `taskExecutionsStorage` and
 * exposes it through the public module `taskExecutionsStorage.ts`.
 */
import { defineApp } from 'convex/server'

import taskExecutionsStorage from '../component/convex.config'

const app = defineApp()
app.use(taskExecutionsStorage)

export default app
