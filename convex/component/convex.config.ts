/**
 * The storage component's definition. An app mounts it with
 * `app.use(taskExecutionsStorage)` and reaches its functions as
 * `components.taskExecutionsStorage.lib.*`.
 */
import { defineComponent } from 'convex/server'

const component = defineComponent('taskExecutionsStorage')

export default component
