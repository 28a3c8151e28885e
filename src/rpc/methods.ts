/**
 * Method tables for the RPC dialects: name -> parameter types (checked before the handler runs: wrong arity
 * or type is fault -32602), help text, and a handler of a few lines that maps wire values to core calls.
 * A dispatcher adds the introspection methods (`system.listMethods`, `system.methodHelp`,
 * `system.methodSignature`) and `system.multicall` to any table.
 *
 * Handlers receive the call context and whatever the dialect hands them (`deps`, of type D): this module
 * knows no dialect.
 */
import type { CallContext } from '../core/context.js';
import type { Logger } from '../logger.js';
import { logUnavailable } from '../core/errors.js';
import { Fault, RPC_FAULT, invalidParams, toFault, type FaultSpelling } from './faults.js';
import { isStruct, wireText, wireType, type RpcValue, type WireType } from './values.js';

export interface ParamSpec {
  name: string;
  /** Accepted types; the first one is the documented signature. */
  types: WireType[];
  optional?: boolean;
}

export interface MethodCtx<D> {
  call: CallContext;
  deps: D;
}

export interface MethodDef<D> {
  params: ParamSpec[];
  returns: WireType;
  help: string;
  /** Receives the params checked against `params`; absent or nil optional params are undefined. */
  handler(ctx: MethodCtx<D>, args: (RpcValue | undefined)[]): Promise<unknown>;
}

export type MethodTable<D> = Record<string, MethodDef<D>>;

/** Every type: a parameter the handler reads leniently (CloudMailing's cursor). */
export const ANY_TYPE: WireType[] = ['string', 'int', 'double', 'boolean', 'dateTime.iso8601', 'base64', 'struct', 'array'];

export const P = (name: string, types: WireType | WireType[], optional = false): ParamSpec => ({
  name,
  types: Array.isArray(types) ? types : [types],
  optional,
});

function checkArgs<D>(method: string, def: MethodDef<D>, params: RpcValue[]): (RpcValue | undefined)[] {
  const required = def.params.filter((p) => !p.optional).length;
  if (params.length < required || params.length > def.params.length) {
    const n = required === def.params.length ? `${required}` : `${required} to ${def.params.length}`;
    throw invalidParams(`${method}: expected ${n} parameters, got ${params.length}`);
  }
  return def.params.map((spec, i) => {
    const v = params[i];
    if (v === undefined || (v === null && spec.optional)) return undefined;
    const t = wireType(v);
    // An integral number is fine where a double is expected.
    const ok = spec.types.includes(t as WireType) || (t === 'int' && spec.types.includes('double'));
    if (!ok) throw invalidParams(`${method}: parameter ${i + 1} (${spec.name}) must be ${spec.types.join(' or ')}, got ${t}`);
    return v;
  });
}

function signatures<D>(def: MethodDef<D>): string[][] {
  const required = def.params.filter((p) => !p.optional).length;
  const out: string[][] = [];
  for (let n = required; n <= def.params.length; n++) out.push([def.returns, ...def.params.slice(0, n).map((p) => p.types[0]!)]);
  return out;
}

export const MAX_MULTICALL = 1000;

export interface Dispatcher<D> {
  /** Check the params against the table and run the method. Throws Fault, DomainError or anything unexpected. */
  invoke(ctx: MethodCtx<D>, methodName: string, params: RpcValue[]): Promise<unknown>;
  /** A method's parameter names, in order (named parameters of JSON-RPC); undefined for an unknown method. */
  paramNames(methodName: string): string[] | undefined;
  /** How the dialect spells the errors of its methods as faults. */
  spelling: FaultSpelling;
}

/**
 * The table plus `system.*`. `spelling` turns the errors of a multicall's calls into fault structs; `logger`
 * receives the unexpected ones.
 */
export function dispatcher<D>(table: MethodTable<D>, o: { spelling: FaultSpelling; logger: Logger }): Dispatcher<D> {
  const { spelling, logger } = o;
  const lookup = (name: RpcValue | undefined): MethodDef<D> => {
    const def = typeof name === 'string' && Object.prototype.hasOwnProperty.call(all, name) ? all[name] : undefined;
    if (!def) throw new Fault(RPC_FAULT.UNKNOWN_METHOD, `method ${JSON.stringify(wireText(name).slice(0, 100))} is not supported`);
    return def;
  };

  const system: MethodTable<D> = {
    'system.listMethods': {
      params: [],
      returns: 'array',
      help: 'Lists the methods this server offers.',
      handler: () => Promise.resolve(Object.keys(all).sort()),
    },
    'system.methodHelp': {
      params: [P('method_name', 'string')],
      returns: 'string',
      help: 'Returns the documentation of a method.',
      handler: (_ctx, [name]) => Promise.resolve(lookup(name).help),
    },
    'system.methodSignature': {
      params: [P('method_name', 'string')],
      returns: 'array',
      help: 'Returns the signatures of a method: arrays of [return type, parameter types...].',
      handler: (_ctx, [name]) => Promise.resolve(signatures(lookup(name))),
    },
    'system.multicall': {
      params: [P('calls', 'array')],
      returns: 'array',
      help: 'Runs several calls, each {methodName, params}, in order. Returns per call a one-element array with its result, or a {faultCode, faultString} struct. No nested system.multicall.',
      async handler(ctx, [calls]) {
        const list = calls as RpcValue[];
        if (list.length > MAX_MULTICALL) throw invalidParams(`system.multicall: at most ${MAX_MULTICALL} calls`);
        const out: unknown[] = [];
        for (const c of list) {
          try {
            if (!isStruct(c) || typeof c.methodName !== 'string') throw invalidParams('system.multicall: each call must be a struct {methodName, params}');
            if (c.methodName === 'system.multicall') throw invalidParams('system.multicall: nested multicall is not allowed');
            const params = c.params === undefined ? [] : c.params;
            if (!Array.isArray(params)) throw invalidParams('system.multicall: params must be an array');
            out.push([await invoke(ctx, c.methodName, params)]);
          } catch (e) {
            const f = toFault(e, spelling);
            if (f.internal)
              logger.error(
                { err: e, requestId: ctx.call.requestId, method: (isStruct(c) ? wireText(c.methodName) : '').slice(0, 100) },
                'rpc: internal error in multicall',
              );
            if (f.unavailable) logUnavailable(logger, 'rpc multicall', f.unavailable, { requestId: ctx.call.requestId });
            out.push({ faultCode: f.faultCode, faultString: f.faultString });
          }
        }
        return out;
      },
    },
  };
  const all: MethodTable<D> = { ...table, ...system };

  async function invoke(ctx: MethodCtx<D>, methodName: string, params: RpcValue[]): Promise<unknown> {
    const def = lookup(methodName);
    return await def.handler(ctx, checkArgs(methodName, def, params));
  }
  return {
    invoke,
    paramNames: (name) => (Object.prototype.hasOwnProperty.call(all, name) ? all[name]!.params.map((p) => p.name) : undefined),
    spelling,
  };
}
