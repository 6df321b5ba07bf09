import type { FunctionEntry, HttpRoute } from './aws/functions.js';

/** A function's HTTP route, as it appears in the route table of the HTTP API. */
export interface RouteTarget {
  /** Name of the function entry that serves the route. */
  name: string;
  route: HttpRoute;
}

interface Candidate {
  name: string;
  /** 0: path without a greedy variable, 1: greedy path variable, 2: $default. */
  kind: 0 | 1 | 2;
  /** Per segment, 1 for a literal and 0 for a variable; the greedy variable is left out. */
  literals: number[];
  anyMethod: boolean;
}

/** Every HTTP route of the given function entries, in declaration order. */
export function httpRoutes(entries: FunctionEntry[]): RouteTarget[] {
  return entries.flatMap((entry) =>
    entry.triggers.flatMap((trigger) => (trigger.kind === 'http' ? trigger.routes.map((route) => ({ name: entry.name, route })) : [])),
  );
}

function segmentsOf(path: string): string[] {
  return path.split('/').slice(1);
}

/** Match one route against a request path; undefined when it does not match. */
function matchRoute(target: RouteTarget, method: string, requestSegments: string[]): Candidate | undefined {
  const { route } = target;
  const anyMethod = route.method === 'ANY';
  if (!anyMethod && route.method !== method) return undefined;
  if (route.path === '$default') return { name: target.name, kind: 2, literals: [], anyMethod };
  const routeSegments = segmentsOf(route.path);
  const greedy = /^\{\w+\+\}$/.test(routeSegments.at(-1) ?? '');
  const fixed = greedy ? routeSegments.slice(0, -1) : routeSegments;
  // A greedy variable needs at least one more segment; a plain route needs exactly as many.
  if (greedy ? requestSegments.length <= fixed.length : requestSegments.length !== fixed.length) return undefined;
  const literals: number[] = [];
  for (const [index, segment] of fixed.entries()) {
    const variable = /^\{\w+\}$/.test(segment);
    if (variable ? requestSegments[index] === '' : segment !== requestSegments[index]) return undefined;
    literals.push(variable ? 0 : 1);
  }
  if (greedy && requestSegments.slice(fixed.length).join('/') === '') return undefined;
  return { name: target.name, kind: greedy ? 1 : 0, literals, anyMethod };
}

/** Order two matches: negative when `a` is the more specific one. */
function compareSpecificity(a: Candidate, b: Candidate): number {
  if (a.kind !== b.kind) return a.kind - b.kind;
  // Among greedy routes the longer fixed prefix is more specific.
  if (a.kind === 1 && a.literals.length !== b.literals.length) return b.literals.length - a.literals.length;
  // A literal segment beats a variable at the first position where they differ.
  // NOTE: the API Gateway guide states only "full match, then greedy variable, then $default";
  // this tie-break is an assumption. Routes of the service that depend on it go to the same function.
  for (let index = 0; index < Math.min(a.literals.length, b.literals.length); index += 1) {
    if (a.literals[index] !== b.literals[index]) return b.literals[index] - a.literals[index];
  }
  // A route for the request's method beats an ANY route of the same path.
  return Number(a.anyMethod) - Number(b.anyMethod);
}

/**
 * Select the function that serves a request the way API Gateway HTTP APIs
 * select a route. A full match of path and method comes first (literal
 * segments before path variables), then the route with a greedy path variable
 * whose fixed prefix is longest, then `$default`. A route with the request's
 * method beats an ANY route of the same path. Returns the function's name, or
 * undefined when no route matches (API Gateway then responds 404).
 */
export function selectFunction(routes: RouteTarget[], method: string, path: string): string | undefined {
  const requestSegments = segmentsOf(path);
  let best: Candidate | undefined;
  for (const target of routes) {
    const candidate = matchRoute(target, method.toUpperCase(), requestSegments);
    if (candidate && (!best || compareSpecificity(candidate, best) < 0)) best = candidate;
  }
  return best?.name;
}
