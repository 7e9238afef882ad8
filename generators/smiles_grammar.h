#pragma once
// SmilesGrammar: which tokens may come next in a SMILES string, so that a language model samples
// only strings that parse. The model's next-token distribution is renormalized over the allowed
// tokens (grammar-constrained decoding); what it forbids:
//   - an end while a branch or a ring closure is open (RDKit: "unclosed ring");
//   - a ring closure back onto the atom that opened it, or onto the atom just before it
//     ("ring closure duplicates bond");
//   - two ring closures between the same two atoms ("C12CCC12");
//   - a ')' with no branch open, an empty branch "()", a branch or closure right after '(' (with
//     or without a bond between) or at the start, two bonds in a row, a bond before ')' or the end.
// It is a little stricter than SMILES, as RDKit's canonical output is: a ring label right after
// ')' (with or without a bond between), a ring bond across '.', and '.' inside a branch are
// refused (none occurs in ZINC 250k).
// Chemistry (valences, aromatic rings that cannot be kekulized) is left to RDKit's check.
//
// Tokens are the SMILES tokens of the model's vocabulary (a bracket atom, Cl, a ring label, one
// character); the special ones (padding, begin) are never allowed, and `end` is the end token.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace labloop::generators {

// SMILES tokens: a bracket atom, Cl, Br, a %NN ring closure, or one character.
std::vector<std::string> TokenizeSmiles(const std::string& smiles);

class SmilesGrammar {
 public:
  // What a token is: an atom (organic subset, aromatic, bracket or '*'), a bond, a branch open or
  // close, a ring label (1-9, %NN), the '.' between fragments, the end, or never allowed.
  enum class Kind : uint8_t { kAtom, kBond, kOpen, kClose, kRing, kDot, kEnd, kNever };

  // One sample's position in the grammar.
  struct State {
    Kind last = Kind::kDot;          // the last token; a new fragment starts as after '.'
    bool bond_after_branch = false;  // the last token is a bond right after '(' or ')'
    int depth = 0;                   // branches open
    int open_rings = 0;
    int32_t atom = -1;                 // the current atom (bonds attach here)
    std::array<int32_t, 100> ring{};   // ring label → opening atom + 1 (0: closed)
    std::vector<int32_t> parent;       // atom → the atom it is bonded to in the chain (-1: none)
    std::vector<int32_t> branch_from;  // stack of branch points
    std::vector<int32_t> closed_here;  // atoms the current atom has closed a ring onto
  };

  // `tokens[i]` is token i's text; `end` the end token's id; ids in `never` are never allowed.
  SmilesGrammar(const std::vector<std::string>& tokens, int64_t end,
                const std::vector<int64_t>& never);

  size_t size() const { return kinds_.size(); }
  Kind KindOf(int64_t token) const { return kinds_[token]; }

  // allowed[t] = whether token t may follow; at least one atom always may.
  void Allowed(const State& state, uint8_t* allowed) const;
  bool IsAllowed(const State& state, int64_t token) const;
  void Advance(State& state, int64_t token) const;

 private:
  std::vector<Kind> kinds_;
  std::vector<int> labels_;  // ring label of each ring token, else -1
};

}  // namespace labloop::generators
