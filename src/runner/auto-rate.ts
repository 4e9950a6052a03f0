import { systemClock, type Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import { parseRateLimitHeaders } from './retry-after.js';

export interface AutoRateOptions {
  /** First rate, requests/s. Default 10 (the fixed default: modest for any account). */
  initial?: number;
  /** Never below this. Default 0.5/s. */
  min?: number;
  /** Never above this. Default 10 000/s. */
  max?: number;
  clock?: Clock;
  /** Told of every change of rate and why (diagnostics, tests). */
  onDecision?: (decision: AutoRateDecision) => void;
}

export interface AutoRateDecision {
  at: number;
  reason: 'slow-start' | 'search' | 'settle' | 'creep' | 'cut' | 'noise' | 'resume-refused' | 'announced' | 'remaining';
  rate: number;
  estimate: number | undefined;
  /** For a cut: how long sending had gone on since the last resume, ms, and what the server took meanwhile. */
  episodeMs?: number;
  episodeAccepted?: number;
}

/** What `--rate auto` needs of a response (the client's `onResponse` info). */
export interface PacingInfo {
  status: number;
  /** Lower-cased pacing headers (Retry-After, RateLimit-*, X-RateLimit-*). */
  headers: Record<string, string>;
}

export type AutoRatePhase = 'slow-start' | 'probing' | 'announced';

/** Slow start: the rate doubles every this long the client reached it. */
const DOUBLING_MS = 500;
/** A growth window lasts at least this long… */
const MIN_WINDOW_MS = 250;
/** …and holds at least this many requests at the current rate (a window of 1 request proves nothing). */
const WINDOW_REQUESTS = 5;
/** Growth windows once past slow start. */
const PROBE_WINDOW_MS = 500;
/** A window counts as rate-bound when it achieved this share of the rate (else: concurrency-bound). */
const RATE_BOUND = 0.85;
/** Searching: a probe rate the server took this long without a 429 counts as sustained (half as long far under the failed one). */
const PROBE_MS = 2000;
const FAR = 1.5;
/** Searching: with no rate sustained yet, the next probe is this share of the one that failed. */
const PROBE_DOWN = 0.85;
/** Searching ends when the failed and sustained rates are this close. */
const BRACKET = 1.2;
/** Settle this far under an estimated limit. */
const MARGIN = 0.98;
/** Past the hold, creep up +0.2 %/s; past the estimate, doubling every 3 s, at most +50 %/s. */
const CREEP = 0.002;
const CREEP_DOUBLING_MS = 3000;
const CREEP_MAX = 0.5;
/** A creep refused this far above where it began (the limit rose) goes back to the rate it had this long before. */
const CREPT_PAST = 1.15;
const CREEP_BACK_MS = 3000;
/**
 * Under a bucket too small for any burst, a rate over the limit fails at once, so the rate that
 * failed is close to the limit: close the gap to it faster, this share of it per second.
 */
const APPROACH = 0.1;
/** Hold at the settling point this long after a cut, doubled per cut that confirmed the estimate. */
const HOLD_MS = 4000;
const HOLD_MAX_MS = 60_000;
/** Two estimates this close confirm each other. */
const CONFIRM = 0.03;
/** A 429 cluster this soon after sending resumed: the resume burst was refused, not the rate. */
const RESUME_REFUSED_MS = 300;
/** An episode this long at one rate means that rate was just over the limit. */
const LONG_EPISODE_MS = 2000;
/** A bucket at most this share of a second's worth of the rate is refused at once when over the limit. */
const TINY_BUCKET = 0.02;
/** Under such a bucket, this many quick 429s in a row at a rate that had lasted: it is over the limit. */
const QUICK_REFUSALS = 2;
/** A 429 after this long at (within 5 % of) the settling point: the estimate was a little high… */
const RATCHET_MS = 1000;
const NEAR_ESTIMATE = 1.05;
/** …unless the last step down did not lengthen the time to a 429 by half: noise, not the rate. */
const NOISE = 1.5;
/**
 * A bucket of one token (strict spacing): a 429 within this many requests' time of a resume was
 * refused right away, the rate far over the limit (a bigger step down).
 */
const QUICK_REQUESTS = 2.5;
/** Strict: a 429 this soon after the last one is a cluster (the rate is over the edge): step down… */
const STRICT_CLUSTER_MS = 5000;
const STRICT_CUT = 0.97;
/** …more when refused right at a resume (far over). */
const STRICT_CUT_FAR = 0.95;
/**
 * Strict: a lone 429 this soon after the last one costs more than it saves (each is a pause of
 * its Retry-After, a second of nothing): step down 2 %.
 */
const STRICT_LONE_MS = 20_000;
const STRICT_LONE_CUT = 0.98;
/** Strict: after this long with no 429, creep up +0.5 %/s. */
const STRICT_QUIET_MS = 10_000;
const STRICT_CREEP = 0.005;
/** Under this rate the limiter sends no burst at all (its tolerance is a tenth of a second's worth). */
const NO_BURST_RATE = 19.9;
/** A fitted refill rate must lie this far under the rates of its episodes. */
const FIT_BELOW = 0.97;
/** Episodes kept for the estimate. */
const EPISODES = 4;
/** A rate that varied less than this over an episode counts as one rate. */
const STEADY = 0.02;
/** How far under an announced limit to settle (exact, but clocks drift). */
const ANNOUNCED_MARGIN = 0.99;
/** A 429 under an announced limit: back off this much, then return at +5 %/s after a hold. */
const ANNOUNCED_CUT = 0.9;
const ANNOUNCED_RECOVERY = 0.05;

/** Sending at one rate from the end of a 429 pause to the next 429: what the server took meanwhile. */
interface Episode {
  /** Requests accepted. */
  accepted: number;
  /** ms from the resume to the 429. */
  ms: number;
  /** The rate sent at. */
  rate: number;
  /** The pause before it, ms, and whether the resume was gentle: together they set the intercept. */
  pauseMs: number;
  gentle: boolean;
}

type Mode = 'slow-start' | 'search' | 'settled' | 'announced';

/**
 * `--rate auto`: find and follow a server's rate limit nobody announced (design.md §4).
 *
 * The model is a token bucket: the server refills L tokens/s into a bucket of b, both unknown.
 * A 429 means the bucket just ran empty; the executor then pauses the whole queue for the
 * Retry-After, during which the bucket refills to min(b, L·pause). Sending at one rate r > L
 * from such a resume, the next 429 comes when what the server accepted, A, reaches b + L·D
 * (D: the time since the resume). A blind multiplicative decrease assumes b ≈ L·pause (a full
 * second's worth): with a small bucket every pause wastes most of a second and the sawtooth
 * settles far under L. Instead:
 *
 * - **Slow start**: from `initial`, double the rate every half second the client reached it,
 *   until the first 429 (one before the first raise is forgiven: at 10/s it is a start-up stall
 *   more likely than the limit); then halve.
 * - **Episodes**: each stretch at one rate from a resume to the next 429 is a point (D, A) on
 *   the line A = b + L·D, so two of them with different D give the refill rate L as the slope,
 *   whatever the bucket; settle at 98 % of it. A single long one (D ≥ 2 s) says that rate was
 *   just over L.
 * - **Search**: until then, send at steady rates (steady, so that the episodes measure): the
 *   geometric middle of the highest rate the server took for 2 s without a 429 and the lowest
 *   one it refused (85 % of the refused one while none was sustained); settle on the sustained
 *   one once the two are within 20 %. What the server accepted between two 429s (the bucket
 *   empty at both ends) is a floor of L.
 * - **Settled**: hold a few seconds (doubled whenever a 429 confirmed the estimate, up to a
 *   minute), then creep +0.2 %/s; past the estimate the creep doubles every 3 s, so a limit that
 *   rose (or a settling point that noise put too low) is found within a minute or so. A creep
 *   refused goes back to where it began (far past it: searches between the two); a 429 after a
 *   while at the settling point steps it down 2 %, unless the last step did not make the server
 *   take longer to refuse (noise, not the rate: step back up).
 * - **A refused resume**: a 429 within 300 ms of a resume is the limiter's catch-up burst
 *   (a tenth of a second's worth of slots) meeting a bucket smaller than it, not a rate the
 *   server cannot take. From then on the limiter is held under 20/s (where it sends no burst)
 *   during each pause and given its rate back with the first answer after it; and a quick 429
 *   at the settling point is taken for a stall that bunched requests (such a bucket refuses a
 *   rate over the limit at once, not after a hold at it) unless three come in a row.
 * - **A bucket of one token** (the refused resume took one request): the limiter spaces
 *   requests strictly from then on, each at least 1/rate after the one before reached its
 *   socket (a late timer must not bring the next one closer), or after the server took it
 *   when its answer came back late (RateLimiter.markWritten). Near the limit, jitter (two
 *   requests bunched on the way, a server's own GC pause) draws a lone 429 now and then at any
 *   rate: a rare one leaves the rate alone. 429s within 5 s of each other mean over the edge:
 *   −3 % each (−5 % when refused right at a resume). Lone ones within 20 s of each other, −2 %:
 *   each costs a pause of its Retry-After (a second of nothing), so one every 7 s loses 14 %
 *   where 2 % less rate may lose none. 10 s without a 429: +0.5 %/s. It settles just under where
 *   429s come more often than every 20 s.
 * - **Headers** win: `RateLimit-Policy` (`q;w=s`) announces the rate: take it and stop
 *   probing. `RateLimit-Remaining` (or `X-`) running low stops any increase; reaching 0 caps the
 *   rate at `limit / reset` — what the server will accept before it resets.
 * - One cut per 429 cluster: a 429 answered during the pause was sent before it and belongs to
 *   the cluster that started it. A window where the client sent less than the rate (concurrency-
 *   or latency-bound) never raises it: a rate nobody reached proves nothing and banks a burst.
 */
export class AutoRate {
  #rate: number;
  #mode: Mode = 'slow-start';
  /** Search: the lowest rate that drew a 429, and the highest one sustained since. */
  #failed = Number.POSITIVE_INFINITY;
  #sustained = 0;
  /** Slow start: what the server took over the last whole window (under a small bucket, the limit is above it). */
  #slowStartReached = 0;
  /** Slow start: the last rate it held a whole window without a 429 (then raised). */
  #slowStartSustained = 0;
  /** Slow start raised the rate at least once; a 429 before that was forgiven once. */
  #raised = false;
  #forgiven = false;
  /** Search: when the current probe rate began (or sending resumed at it). */
  #probeStart: number;
  /** Estimated server rate, 0 until settled. */
  #estimate = 0;
  /** Announced by RateLimit-Policy, or capped by remaining = 0; never exceeded. */
  #cap = Number.POSITIVE_INFINITY;
  #accepted = 0;
  #windowStart: number;
  #windowAccepted = 0;
  /** The rate when the window began, and when the one before began: a raise reaches the server only after the slots already reserved. */
  #windowRate: number;
  #previousWindowRate: number;
  #hold = false;
  #holdUntil = Number.NEGATIVE_INFINITY;
  #confirmed = 0;
  #creepSince: number | undefined;
  /** Settled: the rate that lasted the hold, where the creep began (undefined before), and the creep since. */
  #creepFrom: number | undefined;
  #creep: Array<{ at: number; rate: number }> = [];
  /** Settled: the last step down after a 429 at the settling point. */
  #ratchet: { from: number; episodeMs: number } | undefined;
  /** Under a bucket of 1: quick 429s in a row at a rate that had lasted. */
  #quickRefusals = 0;
  /** When the rate last changed. */
  #changedAt = Number.NEGATIVE_INFINITY;
  /** Lowest and highest rate since the resume (an episode must be at one rate). */
  #episodeLow: number;
  #episodeHigh: number;
  #lastCut = Number.NEGATIVE_INFINITY;
  #acceptedAtCut = 0;
  /** End of the pause that followed the last cut (sending resumed then). */
  #resumeAt: number;
  #pauseMs = 0;
  #acceptedAtResume = 0;
  #resumed = true;
  #episodes: Episode[] = [];
  /** Hold the limiter under 20/s during pauses (the server refuses the catch-up burst). */
  #gentle = false;
  /** What the server took of the refused catch-up burst: about its bucket. */
  #bucket = Number.POSITIVE_INFINITY;
  #gentleResume = false;
  /**
   * The server showed a bucket of one token: the limiter spaces requests strictly (no catch-up
   * at all), and the rate follows the jitter-bound regime (#strict429, #strictGrow).
   */
  #strict = false;
  /** Strict: when the last 429 came. */
  #strictLast429 = Number.NEGATIVE_INFINITY;
  /** The rate to give the limiter back once sending resumed (gentle mode). */
  #restore: number | undefined;
  readonly #min: number;
  readonly #max: number;
  readonly #clock: Clock;
  readonly #onDecision: ((decision: AutoRateDecision) => void) | undefined;
  /** Number of cuts after 429s (for the summary and tests). */
  cuts = 0;

  constructor(options: AutoRateOptions = {}) {
    this.#min = options.min ?? 0.5;
    this.#max = options.max ?? 10_000;
    this.#rate = clamp(options.initial ?? 10, this.#min, this.#max);
    this.#clock = options.clock ?? systemClock;
    this.#onDecision = options.onDecision;
    this.#windowStart = this.#clock.now();
    this.#windowRate = this.#previousWindowRate = this.#rate;
    this.#episodeLow = this.#episodeHigh = this.#rate;
    this.#resumeAt = this.#probeStart = this.#windowStart;
  }

  get rate(): number {
    return this.#rate;
  }

  get phase(): AutoRatePhase {
    return this.#mode === 'slow-start' ? 'slow-start' : this.#mode === 'announced' ? 'announced' : 'probing';
  }

  /** The server rate estimated from 429s, or undefined before it was settled on. */
  get measured(): number | undefined {
    return this.#estimate > 0 ? this.#estimate : undefined;
  }

  /** A request succeeded (the server took a token). */
  onSuccess(limiter: RateLimiter): void {
    const now = this.#clock.now();
    if (!this.#resumed) {
      // In flight when the pause began: counted, but no window of growth spans a pause.
      if (now < limiter.pausedUntil) {
        this.#accepted++;
        return;
      }
      this.#resume(limiter, now);
    }
    this.#accepted++;
    this.#windowAccepted++;
    const elapsed = now - this.#windowStart;
    const slowStart = this.#mode === 'slow-start';
    const windowMs = slowStart ? Math.max(MIN_WINDOW_MS, (WINDOW_REQUESTS * 1000) / this.#rate) : PROBE_WINDOW_MS;
    if (elapsed < windowMs) return;
    const achieved = (this.#windowAccepted * 1000) / elapsed;
    // Slow start raises every window, quicker than a raise reaches the server: measure it against
    // the rate of the window before.
    const reference = Math.min(this.#rate, this.#windowRate, slowStart ? this.#previousWindowRate : this.#windowRate);
    this.#startWindow(now);
    const hold = this.#hold;
    this.#hold = false;
    if (hold || achieved < RATE_BOUND * reference) return;
    const seconds = Math.min(2, elapsed / 1000);
    if (this.#strict) {
      this.#strictGrow(limiter, now, seconds);
    } else if (slowStart) {
      this.#slowStartReached = Math.min(achieved, this.#rate);
      this.#slowStartSustained = this.#rate;
      this.#raised = true;
      this.#set(limiter, this.#rate * 2 ** (elapsed / DOUBLING_MS), 'slow-start', now);
    } else if (this.#mode === 'search') {
      if (now - this.#probeStart < (this.#failed > FAR * this.#rate ? PROBE_MS / 2 : PROBE_MS)) return;
      // The server took this rate long enough: it is the new floor of the search.
      this.#sustained = Math.max(this.#sustained, this.#rate);
      if (this.#failed <= BRACKET * this.#sustained) this.#settle(limiter, this.#tiny() ? this.#failed : this.#sustained, this.#sustained, now, 'settle');
      else this.#probe(limiter, Math.sqrt(this.#sustained * this.#failed), now);
    } else if (this.#mode === 'settled' && now >= this.#holdUntil) {
      this.#creepFrom ??= this.#rate;
      // Past the estimate, faster the longer the server takes it: a limit that rose, or a settling
      // point that noise (a stall, a 429 not from the rate) put too low, is found within a minute.
      if (this.#rate >= this.#estimate) this.#creepSince ??= now;
      let growth = this.#creepSince === undefined ? CREEP : Math.min(CREEP_MAX, CREEP * 2 ** ((now - this.#creepSince) / CREEP_DOUBLING_MS));
      if (this.#tiny()) growth = Math.max(growth, APPROACH * ((MARGIN * this.#estimate) / this.#rate - 1));
      this.#set(limiter, this.#rate * (1 + growth * seconds), 'creep', now);
      this.#creep.push({ at: now, rate: this.#rate });
      if (this.#creep.length > 64) this.#creep.shift();
    } else if (this.#mode === 'announced' && this.#rate < this.#cap && now >= this.#holdUntil) {
      this.#set(limiter, this.#rate * (1 + ANNOUNCED_RECOVERY * seconds), 'creep', now);
    }
  }

  /** A request was answered 429. */
  on429(limiter: RateLimiter, _error?: unknown): void {
    const now = this.#clock.now();
    // Answered during a pause: sent before it, part of the cluster that started it.
    if (now < limiter.pausedUntil || now - this.#lastCut < 1000) return;
    if (!this.#resumed) this.#resume(limiter, now);
    const rate = this.#rate;
    const episodeMs = now - this.#resumeAt;
    const episodeAccepted = this.#accepted - this.#acceptedAtResume;
    const steady = this.#episodeHigh <= this.#episodeLow * (1 + STEADY);
    // How long this rate has been sent (since the resume or since it was set, the later), and
    // whether it is the rate that was sent before the last pause too.
    const inForce = now - Math.max(this.#resumeAt, this.#changedAt);
    const sameRate = this.#changedAt < this.#lastCut;
    const span = now - this.#lastCut;
    const floor = this.cuts > 0 && span >= LONG_EPISODE_MS ? ((this.#accepted - this.#acceptedAtCut) * 1000) / span : 0;
    this.#lastCut = now;
    this.#acceptedAtCut = this.#accepted;
    this.cuts++;
    const creptPast = this.#creepFrom !== undefined && rate > CREPT_PAST * this.#creepFrom;
    this.#resumed = false;
    this.#startWindow(now);
    const episode = { episodeMs, episodeAccepted };
    if (this.#mode === 'announced') {
      // Under the announced rate and still refused (another client on the account?): back off a
      // little, and return to it after a hold.
      this.#holdUntil = now + HOLD_MS;
      this.#set(limiter, ANNOUNCED_CUT * rate, 'cut', now, episode);
    } else if (this.#mode === 'slow-start' && !this.#raised && !this.#forgiven) {
      // Refused before slow start raised the rate at all: at a rate that modest, once, that is a
      // start-up stall bunching requests more likely than the limit. Once is forgiven.
      this.#forgiven = true;
      this.cuts--;
      this.#set(limiter, rate, 'noise', now, episode);
    } else if (this.#mode === 'slow-start') {
      // The bucket was full at the start: the rate it failed at says little. Search under it.
      this.#failed = rate;
      this.#probe(limiter, rate / 2, now, 'cut', episode);
    } else if (this.#strict) {
      this.#strict429(limiter, now, rate, episode);
    } else if (!this.#gentle && episodeMs < RESUME_REFUSED_MS && steady) {
      // The limiter's catch-up burst at the resume met a bucket smaller than it: not the rate's
      // fault. From now on the limiter sends no burst at a resume.
      this.#gentle = true;
      this.#bucket = Math.max(1, episodeAccepted);
      // Nor a catch-up burst later: a late timer followed by back-to-back requests is refused too.
      limiter.capBurst(this.#bucket);
      if (this.#bucket <= 1) {
        // One token: strict spacing from now on, and the rate between what slow start reached
        // and the rate that failed.
        this.#strict = true;
        // The limit lies between the last rate slow start held and the one that failed: start
        // a step under their middle, as if that middle had just been refused.
        const failed = Number.isFinite(this.#failed) ? this.#failed : rate;
        const floor = Math.min(this.#slowStartSustained || rate, failed);
        const next = Math.max(rate, Math.sqrt(floor * failed));
        this.#mode = 'settled';
        this.#estimate = failed;
        // This 429 showed the bucket; it says nothing of strict spacing at the new rate, so the
        // first 429 under it is lone (its creep clock starts at the resume all the same).
        this.#strictLast429 = Number.NEGATIVE_INFINITY;
        this.#set(limiter, next, 'resume-refused', now, episode);
        return;
      }
      if (this.#mode === 'search' && this.#sustained === 0 && this.#slowStartReached > rate) {
        // A bucket that small emptied as soon as slow start passed the limit: the last rate slow
        // start reached is a floor of it, and the search goes on between that and the failed one.
        this.#sustained = this.#slowStartReached;
        this.#probe(limiter, Math.sqrt(this.#sustained * this.#failed), now, 'resume-refused', episode);
      } else {
        this.#probeStart = now;
        this.#set(limiter, rate, 'resume-refused', now, episode);
      }
    } else if (this.#tiny() && (inForce >= RATCHET_MS || (sameRate && ++this.#quickRefusals < QUICK_REFUSALS))) {
      // A bucket too small for a burst refuses a rate over the limit at once, not after a second
      // at it: such a 429 came from requests bunched by a stall (ours or the server's). So may a
      // lone quick one at a rate that lasted before the pause. The rate stays.
      if (inForce >= RATCHET_MS) this.#quickRefusals = 0;
      this.#set(limiter, rate, 'noise', now, episode);
    } else {
      this.#quickRefusals = 0;
      if (steady) {
        this.#episodes.push({ accepted: episodeAccepted, ms: episodeMs, rate: (this.#episodeLow + this.#episodeHigh) / 2, pauseMs: this.#pauseMs, gentle: this.#gentleResume });
        if (this.#episodes.length > EPISODES) this.#episodes.shift();
      }
      this.#sustained = Math.max(this.#sustained, floor);
      const fitted = slope(this.#episodes);
      const creepFrom = this.#creepFrom;
      const ratchet = this.#ratchet;
      this.#ratchet = undefined;
      if (this.#mode === 'settled' && creepFrom !== undefined && rate > creepFrom * (1 + STEADY)) {
        // Crept past the limit: it lies between the rate that lasted the hold and this one. Back
        // to the former — or, if the creep went on well past the estimate (the limit rose), to
        // the rate of a few seconds ago; the latter is the estimate (a creep that fails there
        // again confirms it).
        let back = creepFrom;
        if (creptPast) for (const step of this.#creep) if (step.at <= now - CREEP_BACK_MS) back = Math.max(back, step.rate);
        if (rate <= BRACKET * back) this.#settle(limiter, rate, back, now, 'cut', episode);
        else {
          // Far past it: search between the two.
          this.#failed = rate;
          this.#sustained = back;
          this.#probe(limiter, Math.sqrt(back * rate), now, 'cut', episode);
        }
      } else if (fitted !== undefined) {
        const estimate = Math.max(fitted, this.#sustained);
        this.#settle(limiter, estimate, MARGIN * estimate, now, 'cut', episode);
      } else if (this.#mode === 'settled' && steady && episodeMs >= RATCHET_MS && rate <= NEAR_ESTIMATE * this.#estimate) {
        if (ratchet !== undefined && rate < ratchet.from && episodeMs <= NOISE * ratchet.episodeMs) {
          // The last step down did not make the server take longer to refuse: these 429s do not
          // come from the rate (a stalled event loop bunching requests, a noisy server). Back up.
          this.#settle(limiter, this.#estimate, ratchet.from, now, 'cut', episode, false);
        } else {
          // A while at the settling point, then a 429: the estimate was a little high.
          const estimate = Math.min(rate, this.#estimate);
          this.#settle(limiter, estimate, MARGIN * estimate, now, 'cut', episode, false);
          this.#ratchet = { from: rate, episodeMs };
        }
      } else if (steady && episodeMs >= LONG_EPISODE_MS) {
        // A long episode at one rate: it was just over the limit.
        this.#settle(limiter, Math.max(rate, this.#sustained), MARGIN * Math.max(rate, this.#sustained), now, 'cut', episode);
      } else {
        // Well over the limit, and no measure of it yet: search under this rate.
        this.#mode = 'search';
        this.#failed = Math.min(this.#failed, rate);
        if (this.#failed <= BRACKET * this.#sustained) this.#settle(limiter, this.#tiny() ? this.#failed : this.#sustained, this.#sustained, now, 'cut', episode);
        else this.#probe(limiter, this.#sustained > 0 ? Math.sqrt(this.#sustained * this.#failed) : PROBE_DOWN * rate, now, 'cut', episode);
      }
    }
    if (this.#gentle && !this.#strict && this.#rate > NO_BURST_RATE) {
      this.#restore = this.#rate;
      limiter.setRate(NO_BURST_RATE);
    }
  }

  /** Every response's pacing headers (the client's onResponse hook). Cheap when there are none. */
  onResponse(limiter: RateLimiter, info: PacingInfo): void {
    const headers = info.headers;
    const policy = headers['ratelimit-policy'];
    if (policy !== undefined) {
      const announced = parsePolicyRate(policy);
      if (announced !== undefined) {
        const cap = ANNOUNCED_MARGIN * announced;
        if (cap !== this.#cap) {
          this.#cap = cap;
          this.#mode = 'announced';
          this.#estimate = announced;
          this.#set(limiter, cap, 'announced', this.#clock.now());
        }
        return;
      }
    }
    if (headers['ratelimit-remaining'] === undefined && headers['x-ratelimit-remaining'] === undefined && headers['ratelimit'] === undefined) {
      return;
    }
    const now = this.#clock.now();
    const { limit, remaining, resetMs } = parseRateLimitHeaders(headers, now);
    if (remaining === undefined) return;
    if (limit !== undefined && remaining <= Math.max(1, 0.1 * limit)) this.#hold = true;
    if (remaining === 0 && limit !== undefined && resetMs !== undefined && resetMs > 0) {
      // The server takes `limit` more before it resets, at most: pace that out.
      const cap = (limit * 1000) / resetMs;
      if (cap < this.#rate && this.#mode !== 'announced') {
        // The bucket is empty, as at a 429: the requests already in flight may still be refused.
        this.#lastCut = now;
        this.#acceptedAtCut = this.#accepted;
        this.#settle(limiter, cap / MARGIN, cap, now, 'remaining');
      }
    }
  }

  /**
   * Strict spacing, a 429. Near the limit, two requests bunched on the way (jitter, ours or the
   * server's) draw a lone 429 now and then at any rate; over it, they come one after another.
   * So one within 5 s of the last steps it down 3 % (5 % when refused right at a resume: far
   * over); a lone one within 20 s, 2 % (each costs a pause of its Retry-After: they must be
   * rarer than that); a lone one after longer leaves the rate alone.
   */
  #strict429(limiter: RateLimiter, now: number, rate: number, episode: EpisodeInfo): void {
    const since = now - this.#strictLast429;
    const cluster = since < STRICT_CLUSTER_MS;
    const atResume = now - this.#resumeAt < (QUICK_REQUESTS * 1000) / rate;
    this.#strictLast429 = now;
    this.#mode = 'settled';
    this.#estimate = rate;
    if (!cluster) {
      const tooOften = since < STRICT_LONE_MS;
      this.#set(limiter, tooOften ? rate * STRICT_LONE_CUT : rate, tooOften ? 'cut' : 'noise', now, episode);
      return;
    }
    this.#set(limiter, rate * (atResume ? STRICT_CUT_FAR : STRICT_CUT), 'cut', now, episode);
  }

  /** Strict spacing, a window with no 429: after 10 s of quiet, creep up +0.5 %/s. */
  #strictGrow(limiter: RateLimiter, now: number, seconds: number): void {
    const quiet = now - Math.max(this.#strictLast429, this.#resumeAt);
    if (quiet < STRICT_QUIET_MS) return;
    this.#set(limiter, this.#rate * (1 + STRICT_CREEP * seconds), 'creep', now);
  }

  /**
   * A bucket so small next to the rate (one token, or at most 2 % of a second's worth) that
   * the server refuses a rate over its limit at once, within the first few requests.
   */
  #tiny(): boolean {
    return this.#bucket <= Math.max(1, TINY_BUCKET * this.#rate);
  }

  /** Search: send steadily at `rate` and see whether the server takes it. */
  #probe(limiter: RateLimiter, rate: number, now: number, reason: AutoRateDecision['reason'] = 'search', episode: EpisodeInfo = {}): void {
    this.#mode = 'search';
    this.#probeStart = now;
    this.#set(limiter, rate, reason, now, episode);
  }

  /** Settle on `estimate` of the server's rate, sending at `rate` (at most the estimate). */
  #settle(
    limiter: RateLimiter,
    estimate: number,
    rate: number,
    now: number,
    reason: AutoRateDecision['reason'],
    episode: EpisodeInfo = {},
    confirms = true,
  ): void {
    if (!confirms) this.#confirmed = 0;
    else if (this.#estimate > 0 && Math.abs(estimate - this.#estimate) <= CONFIRM * this.#estimate) this.#confirmed++;
    else this.#confirmed = 0;
    this.#mode = 'settled';
    this.#estimate = estimate;
    this.#creepFrom = undefined;
    this.#creepSince = undefined;
    this.#creep = [];
    this.#failed = Number.POSITIVE_INFINITY;
    this.#sustained = 0;
    this.#holdUntil = now + Math.min(HOLD_MAX_MS, HOLD_MS * 2 ** this.#confirmed);
    this.#set(limiter, Math.min(rate, estimate), reason, now, episode);
  }

  /** First answer after the pause that followed a cut: sending resumed at `limiter.pausedUntil`. */
  #resume(limiter: RateLimiter, now: number): void {
    this.#resumed = true;
    const at = Math.min(now, Math.max(this.#lastCut, limiter.pausedUntil));
    this.#pauseMs = at - this.#lastCut;
    this.#resumeAt = at;
    if (this.#probeStart < at) this.#probeStart = at;
    this.#acceptedAtResume = this.#accepted;
    this.#episodeLow = this.#episodeHigh = this.#rate;
    this.#gentleResume = this.#restore !== undefined;
    this.#startWindow(at);
    if (this.#restore !== undefined) {
      limiter.setRate(this.#restore);
      this.#restore = undefined;
    }
  }

  #startWindow(at: number): void {
    this.#windowStart = at;
    this.#windowAccepted = 0;
    this.#previousWindowRate = this.#windowRate;
    this.#windowRate = this.#rate;
  }

  #set(limiter: RateLimiter, rate: number, reason: AutoRateDecision['reason'], now: number, episode: EpisodeInfo = {}): void {
    const next = clamp(Math.min(rate, this.#cap), this.#min, this.#max);
    if (next !== this.#rate) this.#changedAt = now;
    this.#rate = next;
    this.#episodeLow = Math.min(this.#episodeLow, this.#rate);
    this.#episodeHigh = Math.max(this.#episodeHigh, this.#rate);
    this.#restore = undefined;
    limiter.setRate(this.#rate);
    this.#onDecision?.({ at: now, reason, rate: this.#rate, estimate: this.measured, ...episode });
  }
}

type EpisodeInfo = { episodeMs?: number; episodeAccepted?: number };

/**
 * The refill rate from steady episodes after like pauses: the slope of accepted over time,
 * least squares. Undefined unless the episodes differ enough in length to tell it from the bucket.
 */
function slope(episodes: readonly Episode[]): number | undefined {
  const last = episodes[episodes.length - 1];
  if (!last) return undefined;
  const same = episodes.filter((e) => e.gentle === last.gentle && Math.abs(e.pauseMs - last.pauseMs) <= 0.1 * last.pauseMs + 50);
  if (same.length < 2) return undefined;
  const n = same.length;
  const mx = same.reduce((s, e) => s + e.ms, 0) / n;
  const my = same.reduce((s, e) => s + e.accepted, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const e of same) {
    sxx += (e.ms - mx) ** 2;
    sxy += (e.ms - mx) * (e.accepted - my);
  }
  const longest = Math.max(...same.map((e) => e.ms));
  const spread = longest - Math.min(...same.map((e) => e.ms));
  if (spread < 0.25 * longest || spread < 300) return undefined;
  const perSecond = (sxy / sxx) * 1000;
  // A bucket that emptied refills slower than the rate that emptied it. A slope at the rates
  // sent means the server took everything: those 429s did not come from an empty bucket.
  if (!(perSecond > 0) || perSecond > FIT_BELOW * Math.min(...same.map((e) => e.rate))) return undefined;
  return perSecond;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/**
 * `RateLimit-Policy` → requests per second. Accepts `10;w=1`, `100;w=60, 1000;w=3600` (the
 * strictest item wins) and the newer `"default";q=100;w=60`. Undefined when unreadable.
 */
export function parsePolicyRate(value: string): number | undefined {
  let best: number | undefined;
  for (const item of value.split(',')) {
    let quota: number | undefined;
    let window: number | undefined;
    for (const [i, part] of item.split(';').entries()) {
      const p = part.trim();
      const kv = /^([a-z]+)\s*=\s*"?(\d+(?:\.\d+)?)"?$/i.exec(p);
      if (kv) {
        const key = kv[1]!.toLowerCase();
        if (key === 'w') window = Number(kv[2]);
        else if (key === 'q') quota = Number(kv[2]);
      } else if (i === 0 && /^\d+(?:\.\d+)?$/.test(p)) {
        quota = Number(p);
      }
    }
    if (quota === undefined || window === undefined || !(quota > 0) || !(window > 0)) continue;
    const rate = quota / window;
    if (best === undefined || rate < best) best = rate;
  }
  return best;
}
