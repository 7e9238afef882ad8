#include "generators/generator.h"

#include "generators/pool_generator.h"

namespace labloop::generators {

void RegisterBuiltinGenerators(GeneratorRegistry& registry) {
  registry.Register("pool", CreatePoolGenerator);
}

}  // namespace labloop::generators
