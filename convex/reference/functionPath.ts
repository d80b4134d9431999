/**
 * Parsing of Convex function paths (PROTOCOL.md section 1.3): `module:function`,
 * `module.js:function`, `dir/module:function`; a path without `:` names the `default` export.
 */

/** A parsed function path. */
export type FunctionPath = {
  /** The module without a `.js` suffix, e.g. `taskExecutionsStorage`. */
  module: string
  /** The export name, `default` when the path has no `:`. */
  name: string
}

/** Why a path is not a valid path to a Convex function. */
export class BadFunctionPath extends Error {}

/** Splits at the last `:`; rejects the forms the backend rejects. */
export function parseFunctionPath(path: string): FunctionPath {
  const colon = path.lastIndexOf(':')
  const rawModule = colon === -1 ? path : path.slice(0, colon)
  const name = colon === -1 ? 'default' : path.slice(colon + 1)
  const module = rawModule.endsWith('.js') ? rawModule.slice(0, -'.js'.length) : rawModule
  const invalid = (reason: string) =>
    new BadFunctionPath(`${path} is not a valid path to a Convex function. ${reason}`)
  if (module === '' || name === '') {
    throw invalid('The module and the function name must not be empty.')
  }
  if (module.startsWith('/')) {
    throw invalid('Module paths must be relative.')
  }
  if (module.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) {
    throw invalid('Module paths must not contain empty, "." or ".." segments.')
  }
  if (/\.[^/]*$/.test(module)) {
    throw invalid('Module paths must end in ".js" or have no extension.')
  }
  return { module, name }
}

/** `module:name`, the form "not found" messages echo. */
export function strippedPath(path: FunctionPath): string {
  return `${path.module}:${path.name}`
}

/** `module.js:name`, the form wrong-kind messages echo. */
export function canonicalPath(path: FunctionPath): string {
  return `${path.module}.js:${path.name}`
}
