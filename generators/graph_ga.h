#pragma once
// The graph genetic algorithm: molecules evolved by mutations and crossovers of their graphs
// (after Jensen's GB-GA, Chem. Sci. 2019), with the fitness a caller gives: the campaign's
// acquisition value, or similarity to a target molecule for `labloop generate`.
//
// A generation makes twice the population's number of children. Parents are drawn in proportion to
// fitness (shifted to be positive); a child is
// the crossover of two parents (each cut at a random acyclic single bond, one piece of each
// joined) and, with probability `mutation_rate`, then mutated once (append, delete or change an
// atom, insert an atom into a bond, change a bond order, close or open a ring). Children that do
// not sanitize, are too big or too small, or were seen before are dropped. The population is the
// best `population` of parents and children (elitism). Provenance: generation and parents.

#include <memory>

#include "generators/generator.h"

namespace labloop::generators {

Result<std::unique_ptr<Generator>> CreateGraphGa(const GeneratorOptions& options);

}  // namespace labloop::generators
