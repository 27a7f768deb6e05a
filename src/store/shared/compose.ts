/**
 * How a store is put together: one repository object per record group (and one for its
 * lifecycle), each answering its own methods. `composed<T>()` is a base class whose instances
 * carry every public method of the parts they are given, bound to its part, so the store class
 * itself only opens the database and hands the parts over.
 */
export function composed<T extends object>(): new (parts: readonly object[]) => T {
  class Composed {
    constructor(parts: readonly object[]) {
      const self = this as unknown as Record<string, unknown>;
      for (const part of parts) {
        for (const name of methodNames(part)) {
          // Two parts answering one method would leave one of them silently unused.
          if (name in self) throw new Error(`store composition: ${name} is answered by two parts`);
          self[name] = (part as Record<string, (...args: unknown[]) => unknown>)[name]!.bind(part);
        }
      }
    }
  }
  return Composed as unknown as new (parts: readonly object[]) => T;
}

/** The public methods of an object's class (and the classes it extends). */
function methodNames(part: object): string[] {
  const names = new Set<string>();
  for (let proto = Object.getPrototypeOf(part) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== 'constructor' && typeof (part as Record<string, unknown>)[name] === 'function') names.add(name);
    }
  }
  return [...names];
}
