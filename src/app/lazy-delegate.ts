// Members of a platform prototype, answered by a lazily built platform object.
//
// The light Request and Response (light-request.ts, light-response.ts) write the members they can
// answer cheaply; every other member of the platform prototype (getters and methods, present and
// future: bytes() arrived in Node 22) is defined here to build the platform object and ask it.
// Without this, those members would run the platform's brand checks on the light object and throw
// "Illegal invocation". syncHeaders() keeps the platform object's fields equal to the light one's.

/** Defines, on `light`, each member of `standard` that `light` lacks, answered by `realOf(this)`. */
export function delegateMissing(light: object, standard: object, realOf: (self: object) => object): void {
  for (const key of Reflect.ownKeys(standard)) {
    if (key === 'constructor' || key === Symbol.toStringTag || Object.prototype.hasOwnProperty.call(light, key)) continue;
    const d = Object.getOwnPropertyDescriptor(standard, key);
    if (d === undefined) continue;
    if (typeof d.value === 'function') {
      const method = d.value as (...args: unknown[]) => unknown;
      Object.defineProperty(light, key, {
        configurable: true,
        enumerable: d.enumerable ?? false,
        writable: true,
        value: function (this: object, ...args: unknown[]): unknown {
          return method.apply(realOf(this), args);
        },
      });
    } else if (d.get !== undefined) {
      const get = d.get;
      Object.defineProperty(light, key, {
        configurable: true,
        enumerable: d.enumerable ?? false,
        get(this: object): unknown {
          return get.call(realOf(this));
        },
      });
    }
  }
}

/** Makes `target` hold exactly the fields of `source` (Set-Cookie lines kept apart). */
export function syncHeaders(target: Headers, source: Headers): void {
  for (const name of [...target.keys()]) if (!source.has(name)) target.delete(name);
  for (const [name, value] of source) if (name !== 'set-cookie') target.set(name, value);
  target.delete('set-cookie');
  for (const cookie of source.getSetCookie()) target.append('set-cookie', cookie);
}
