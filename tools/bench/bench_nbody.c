/*
 * The compute-bound C program: a direct-sum gravitational n-body
 * simulation of the Sun and the four giant planets (positions in AU,
 * velocities in AU/day scaled to AU/year, masses in solar masses), STEPS
 * leapfrog steps of 0.01 year. Prints the seconds the steps took; the
 * energy before and after goes to stderr so the work cannot be elided.
 */
#include <math.h>
#include <stdio.h>

#include "bench_common.h"

#define BODIES 5
#define DAYS_PER_YEAR 365.24
#define SOLAR_MASS (4 * M_PI * M_PI)
#define TIME_STEP 0.01

struct body {
    double position[3];
    double velocity[3];
    double mass;
};

/* Approximate heliocentric state vectors of the giant planets. */
static struct body system_bodies[BODIES] = {
    {{0, 0, 0}, {0, 0, 0}, SOLAR_MASS},
    {{4.841, -1.160, -0.1036},
     {1.660e-3 * DAYS_PER_YEAR, 7.699e-3 * DAYS_PER_YEAR,
      -6.905e-5 * DAYS_PER_YEAR},
     9.548e-4 * SOLAR_MASS},
    {{8.343, 4.125, -0.4035},
     {-2.767e-3 * DAYS_PER_YEAR, 4.998e-3 * DAYS_PER_YEAR,
      2.304e-5 * DAYS_PER_YEAR},
     2.858e-4 * SOLAR_MASS},
    {{12.89, -15.11, -0.2233},
     {2.964e-3 * DAYS_PER_YEAR, 2.378e-3 * DAYS_PER_YEAR,
      -2.965e-5 * DAYS_PER_YEAR},
     4.366e-5 * SOLAR_MASS},
    {{15.38, -25.92, 0.1792},
     {2.680e-3 * DAYS_PER_YEAR, 1.628e-3 * DAYS_PER_YEAR,
      -9.515e-5 * DAYS_PER_YEAR},
     5.151e-5 * SOLAR_MASS},
};

/* Gives the Sun the momentum that makes the total zero. */
static void momentum_balance(struct body *bodies)
{
    for (int axis = 0; axis < 3; axis++) {
        double momentum = 0;

        for (int i = 1; i < BODIES; i++)
            momentum += bodies[i].velocity[axis] * bodies[i].mass;
        bodies[0].velocity[axis] = -momentum / SOLAR_MASS;
    }
}

static double energy_total(const struct body *bodies)
{
    double energy = 0;

    for (int i = 0; i < BODIES; i++) {
        const double *v = bodies[i].velocity;

        energy +=
            0.5 * bodies[i].mass * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for (int j = i + 1; j < BODIES; j++) {
            double d[3], distance;

            for (int axis = 0; axis < 3; axis++)
                d[axis] = bodies[i].position[axis] - bodies[j].position[axis];
            distance = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            energy -= bodies[i].mass * bodies[j].mass / distance;
        }
    }
    return energy;
}

static void step(struct body *bodies, double dt)
{
    for (int i = 0; i < BODIES; i++) {
        for (int j = i + 1; j < BODIES; j++) {
            double d[3], distance_squared, magnitude;

            for (int axis = 0; axis < 3; axis++)
                d[axis] = bodies[i].position[axis] - bodies[j].position[axis];
            distance_squared = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            magnitude = dt / (distance_squared * sqrt(distance_squared));
            for (int axis = 0; axis < 3; axis++) {
                bodies[i].velocity[axis] -=
                    d[axis] * bodies[j].mass * magnitude;
                bodies[j].velocity[axis] +=
                    d[axis] * bodies[i].mass * magnitude;
            }
        }
    }
    for (int i = 0; i < BODIES; i++)
        for (int axis = 0; axis < 3; axis++)
            bodies[i].position[axis] += dt * bodies[i].velocity[axis];
}

int main(int argc, char **argv)
{
    unsigned long steps;
    uint64_t start, elapsed;
    double before, after;

    if (argc != 2) {
        fprintf(stderr, "usage: %s STEPS\n", argv[0]);
        return 2;
    }
    steps = bench_count_parse(argv[1], "STEPS");
    momentum_balance(system_bodies);
    before = energy_total(system_bodies);
    bench_kvm_begin();
    start = bench_now_ns();
    for (unsigned long i = 0; i < steps; i++)
        step(system_bodies, TIME_STEP);
    elapsed = bench_now_ns() - start;
    after = energy_total(system_bodies);
    printf("%.6f\n", (double)elapsed / 1e9);
    bench_kvm_end();
    fprintf(stderr, "energy %.9f -> %.9f\n", before, after);
    return 0;
}
