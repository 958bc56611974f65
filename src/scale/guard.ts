/**
 * The reactive guard: the Kubernetes HPA rule on the traffic the load balancer observed.
 * desired = ceil(current x observed utilisation / target), unchanged while the ratio is
 * within the tolerance of 1 (kubernetes.io, "Horizontal Pod Autoscaling", algorithm details).
 */
export interface GuardInput {
  /** Servers in service now. */
  inService: number;
  /** Requests per second the balancer observed over the guard's window. */
  observedRate: number;
  /** Requests per second one server carries at 100% utilisation. */
  capacityPerServer: number;
  targetUtilisation: number;
  /** Ratios within 1 +- tolerance change nothing. @default 0.1 */
  tolerance?: number;
}

export interface GuardResult {
  /** Servers the rule asks for. */
  desired: number;
  /** Observed utilisation of the servers in service (Infinity with none and traffic). */
  utilisation: number;
  /** True when the rule asks for more servers than are in service. */
  scaleOut: boolean;
  reason: string;
}

export function guardDesired(input: GuardInput): GuardResult {
  const { inService, observedRate, capacityPerServer: c, targetUtilisation: target } = input;
  const tolerance = input.tolerance ?? 0.1;
  const rate = Math.max(0, observedRate);
  const fromZero = Math.max(0, Math.ceil(rate / (c * target) - 1e-9));
  if (inService <= 0) {
    return {
      desired: fromZero,
      utilisation: rate > 0 ? Infinity : 0,
      scaleOut: fromZero > 0,
      reason: `observed ${rate.toFixed(1)} req/s with none in service: ${fromZero} at ${target}`,
    };
  }
  const utilisation = rate / (inService * c);
  const ratio = utilisation / target;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  if (Math.abs(ratio - 1) <= tolerance) {
    return {
      desired: inService,
      utilisation,
      scaleOut: false,
      reason: `observed ${pct(utilisation)} of ${inService} within ${pct(tolerance)} of the ${pct(target)} target`,
    };
  }
  const desired = Math.max(0, Math.ceil(inService * ratio - 1e-9));
  return {
    desired,
    utilisation,
    scaleOut: desired > inService,
    reason: `observed ${rate.toFixed(1)} req/s = ${pct(utilisation)} of ${inService} (target ${pct(target)}): ${desired}`,
  };
}
