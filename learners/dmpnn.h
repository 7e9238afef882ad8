#pragma once
// Dmpnn: a directed message-passing neural network on molecular graphs (Yang et al., 2019,
// chemprop's D-MPNN) with a mean-variance head, as an ensemble of `members` networks.
//
// Messages live on directed bonds: h0(u->v) = ReLU(W_i [x_u, e_uv]); for `depth` - 1 steps,
// h(u->v) = ReLU(h0(u->v) + W_h (sum of h(w->u) over u's incoming bonds, less h(v->u))). Each
// atom then reads its incoming messages, h_v = ReLU(W_o [x_v, sum h(u->v)]); the molecule is the
// mean of its atoms; a two-layer head gives the mean and (softplus) variance. A batch of many
// molecules is one graph: every step is a handful of index_add / index_select calls over all
// their bonds at once.
// Members differ by initialization and minibatch order; μ, epistemic and aleatoric σ as in the
// deep ensemble. With `validation_fraction` > 0 each member keeps the epoch of lowest validation
// RMSE (early stopping with `patience`). Reads graphs (chem::BuildMolGraph), not fingerprints.
// Molecule-level features beside the readout (RDKit descriptors) are standardized by their mean
// and s.d. over the training graphs, so their scale in the input does not matter.

#include <memory>

#include "learners/property_model.h"

namespace labloop::learners {

// Fails with kFailedPrecondition when the options name a device this LibTorch cannot use.
Result<std::unique_ptr<PropertyModel>> CreateDmpnn(const ModelOptions& options);

}  // namespace labloop::learners
