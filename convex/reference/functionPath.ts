/**
 * Parsing of Convex function paths (docs/PROTOCOL.md section 1.3), with the backend's rules and
 * messages: split at the last `:` (no `:` names the `default` export); the module may carry a
 * `.js` suffix; `..`, a leading `./` or `/`, other extensions and odd characters are refused
 * with `<path> is not a valid path to a Convex function. <reason>`.
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

/** The longest identifier or path component, in bytes. */
const IDENTIFIER_BYTES_MAX = 64

/** Parses `path`; throws {@link BadFunctionPath} with the backend's reason. */
export function parseFunctionPath(path: string): FunctionPath {
  const colon = path.lastIndexOf(':')
  const module = colon === -1 ? path : path.slice(0, colon)
  const name = colon === -1 ? 'default' : path.slice(colon + 1)
  const reason = moduleProblem(module) ?? identifierProblem(name)
  if (reason !== null) {
    throw new BadFunctionPath(`${path} is not a valid path to a Convex function. ${reason}`)
  }
  // After the checks no `.` or `..` is left; what remains is the normalized module path.
  const normalized = module.split('/').filter((part) => part !== '' && part !== '.').join('/')
  return { module: normalized.replace(/\.js$/, ''), name }
}

/** `module:name` (just `module` for the default export), the form "not found" echoes. */
export function strippedPath(path: FunctionPath): string {
  return path.name === 'default' ? path.module : `${path.module}:${path.name}`
}

/** `module.js:name`, the form wrong-kind messages echo. */
export function canonicalPath(path: FunctionPath): string {
  return `${path.module}.js:${path.name}`
}

/** The backend's objection to a module path (read as a Unix path), or null. */
function moduleProblem(module: string): string | null {
  // Like Rust's `Path::components`: repeated and trailing slashes vanish, and `.` is kept
  // only as the first component.
  const rawParts = module.split('/')
  const absolute = module.startsWith('/')
  const parts = rawParts.filter((part, i) => part !== '' && (part !== '.' || i === 0))
  const fileName = parts.at(-1)
  if (fileName === undefined || fileName === '..' || fileName === '.') {
    return `Module path ${module} doesn't have a filename.`
  }
  const extension = rustExtension(fileName)
  if (extension !== null && extension !== 'js') {
    return `Module path (${module}) has an extension that isn't 'js'.`
  }
  if (absolute) {
    return `Module paths must be relative (${module} is absolute).`
  }
  for (const part of parts) {
    if (part === '.') {
      return `Invalid path component CurDir in ${module}.`
    }
    if (part === '..') {
      return `Invalid path component ParentDir in ${module}.`
    }
  }
  const canonical = extension === null ? [...parts.slice(0, -1), `${fileName}.js`] : parts
  for (const part of canonical) {
    if (Buffer.byteLength(part) > IDENTIFIER_BYTES_MAX) {
      return `Path component is too long (${Buffer.byteLength(part)} > maximum ${IDENTIFIER_BYTES_MAX}): ${part.slice(0, IDENTIFIER_BYTES_MAX)}...`
    }
    if (!/^[A-Za-z0-9_.]*$/.test(part)) {
      return `Path component ${part} can only contain alphanumeric characters, underscores, or periods.`
    }
    if (!/[A-Za-z0-9]/.test(part)) {
      return `Path component ${part} must have at least one alphanumeric character.`
    }
  }
  return null
}

/** Rust's `Path::extension`: the text after the last `.` unless the name starts there. */
function rustExtension(fileName: string): string | null {
  const dot = fileName.lastIndexOf('.')
  return dot <= 0 ? null : fileName.slice(dot + 1)
}

/** The backend's objection to a function (export) name, or null. */
function identifierProblem(name: string): string | null {
  if (name === '') {
    return 'Identifier cannot be empty'
  }
  if (Buffer.byteLength(name) > IDENTIFIER_BYTES_MAX) {
    return `Identifier is too long (${Buffer.byteLength(name)} > maximum ${IDENTIFIER_BYTES_MAX})`
  }
  const first = name[0]!
  if (!/[A-Za-z_]/.test(first)) {
    return `Invalid first character '${first}' in ${name}: Identifiers must start with an alphabetic character or underscore`
  }
  const bad = [...name].find((c) => !/[A-Za-z0-9_]/.test(c))
  if (bad !== undefined) {
    return `Identifier ${name} has invalid character '${bad}': Identifiers can only contain alphanumeric characters or underscores`
  }
  if (/^_+$/.test(name)) {
    return `Identifier ${name} cannot have exclusively underscores`
  }
  return null
}
