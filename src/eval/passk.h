// passk.h: the unbiased pass@k estimator of Chen et al. 2021 ("Evaluating
// Large Language Models Trained on Code", section 2.1).
//
// For one task with n samples of which c pass, the probability that at least
// one of k samples drawn without replacement passes is
//   pass@k = 1 - C(n-c, k) / C(n, k),
// computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i): no binomials, no overflow, and
// exact 1 when n-c < k (every k-subset then holds a passing sample). The
// benchmark's pass@k is the mean over tasks. k must not exceed a task's n:
// passk_mean fails for such a k, and the CLI leaves such a k out of its report
// (as OpenAI's human-eval does: a k is reported only if every task has at
// least k samples).
#ifndef MTP_EVAL_PASSK_H
#define MTP_EVAL_PASSK_H

// pass@k of one task; requires 1 <= k <= n and 0 <= c <= n (else returns -1).
double passk_estimate(long n, long c, long k);

// Mean over `tasks` tasks of passk_estimate(n[t], c[t], k) into *out. Fails
// (mtp_errorf naming the task index) if tasks < 1, k < 1 or some n[t] < k.
int passk_mean(const long *n, const long *c, long tasks, long k, double *out);

// The smallest n[t] over the tasks (0 if tasks < 1): the largest k every
// task supports.
long passk_min_samples(const long *n, long tasks);

#endif
