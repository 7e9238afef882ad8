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
// With `valences` on it also keeps every atom within its valence, counting each bond's order, a
// bracket atom's hydrogens and charge, and the double bond an aromatic carbon needs in a Kekulé
// form (RDKit's valence tables; charged atoms take those of the isoelectronic element):
//   - a bond, branch, ring label or next atom that would overfill the current atom (a fifth bond
//     on C, a third on O, a second on Cl, a fourth connection on an aromatic carbon);
//   - an atom that cannot take the bond before it ("C=F"), a ring closure either end of which
//     cannot take the bond;
//   - a move that leaves, with a ring still open, no atom to go on from: the current atom and
//     every branch point the chain can return to full ("C1CCF", "C1C[C@@H](=O");
//   - a move after which the aromatic bonds written so far have no Kekulé structure: no set of
//     double bonds, one on each finished aromatic c, n, [nH+], [n+], [o+] (no later token can
//     bond to it) that has room for one (o, s and [nH] give lone pairs instead), and none on
//     the others ("c1cccc1", "c1ccnc1", "c1ccccc1=C" with the ring's last atom). Atoms that are
//     not finished yet may take a double bond or not.
// When the rules leave nothing to sample (reached only when no token could lead on, below),
// Allowed drops the Kekulé rule, then the valence rules, so the masked distribution is never
// empty. Aromatic atoms outside rings are left to RDKit.
// Allowed can also wind up a sample that runs long, before the sampler's token limit cuts it: from
// `wind_up_after` tokens on, only a move towards the end is allowed: the end when it may come, else
// a ')' or a ring closure when one may come, else what the other rules allow less any new ring,
// branch or fragment. A model that has lost track of its ring labels otherwise writes on until the
// limit; the generator winds up after the longest SMILES of ZINC 250k (72 tokens).
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

  // An atom's valence left: what bonds may still add, and whether it is an aromatic carbon that
  // still needs the double bond of its Kekulé form (a bond of order 2 or more gives it one).
  struct Valence {
    int8_t room = 0;
    bool needs_double = false;
  };

  // An atom as the Kekulé rule sees it (valences on).
  struct Bonds {
    bool aromatic_atom = false;
    bool takes_double = false;  // aromatic, and not a lone-pair donor (o, s)
    bool doubled = false;       // has a bond of order 2 or more
    uint8_t open = 0;           // ring labels open on it and branches open from it
    uint8_t rings = 0;          // ring labels open on it
    uint8_t aromatic = 0;       // aromatic bonds, the first four listed in `next`
    std::array<int16_t, 4> next{};
  };

  // One sample's position in the grammar.
  struct State {
    int tokens = 0;                  // tokens read
    Kind last = Kind::kDot;          // the last token; a new fragment starts as after '.'
    bool bond_after_branch = false;  // the last token is a bond right after '(' or ')'
    int depth = 0;                   // branches open
    int open_rings = 0;
    int32_t atom = -1;                 // the current atom (bonds attach here)
    std::array<int32_t, 100> ring{};   // ring label → opening atom + 1 (0: closed)
    std::vector<int32_t> parent;       // atom → the atom it is bonded to in the chain (-1: none)
    std::vector<int32_t> branch_from;  // stack of branch points
    std::vector<int32_t> closed_here;  // atoms the current atom has closed a ring onto
    // With valences: the order of the bond token just read (0: none), the order each open ring
    // label reserved on its opening atom (negative: written there, so it binds the closure), and
    // each atom's valence left.
    int8_t bond = 0;
    std::array<int8_t, 100> ring_bond{};
    std::vector<Valence> valence;
    std::vector<Bonds> bonds;
  };

  // `tokens[i]` is token i's text; `end` the end token's id; ids in `never` are never allowed;
  // `valences`: also the valence and Kekulé rules (above).
  SmilesGrammar(const std::vector<std::string>& tokens, int64_t end,
                const std::vector<int64_t>& never, bool valences = false);

  size_t size() const { return kinds_.size(); }
  Kind KindOf(int64_t token) const { return kinds_[token]; }

  // allowed[t] = whether token t may follow; at least one token always may (an atom, unless the
  // valence rules left nothing and the syntax rules alone allow a ')'). From `wind_up_after`
  // tokens on (0: never), only moves towards the end (above).
  void Allowed(const State& state, uint8_t* allowed, int wind_up_after = 0) const;
  // Whether the syntax rules, and the valence and Kekulé rules when on, allow `token` next.
  bool IsAllowed(const State& state, int64_t token) const;
  void Advance(State& state, int64_t token) const;
  // Whether, after `token`, the rules still allow some token (the end always leads on). The rules
  // look one token ahead only through the dead-end rule, so a move they allow can still leave
  // nothing to follow (an aromatic ring whose every continuation breaks its Kekulé structure); the
  // samplers draw again, without that token, when a draw does not lead on.
  bool LeadsOn(const State& state, int64_t token) const;

  // A bracket or organic-subset atom's valence when it starts: its largest allowed valence less
  // its hydrogens; room 8 (no limit) for '*' and elements with any valence.
  static Valence AtomValence(const std::string& token);

 private:
  bool SyntaxAllows(const State& state, int64_t token) const;
  bool ValenceAllows(const State& state, int64_t token) const;
  // Whether the aromatic bonds still have a Kekulé structure after `token`.
  bool KekuleAllows(const State& state, int64_t token) const;
  // Which atom tokens the Kekulé rule treats alike after `state`: 0 aliphatic or a lone-pair
  // donor, 1 an aromatic atom that can take a double bond.
  int KekuleClass(const State& state, int64_t token) const;
  // Allowed without winding up.
  void AllowedByRules(const State& state, uint8_t* allowed) const;
  // Narrows `allowed` to the moves towards the end, never to nothing.
  void WindUp(const State& state, uint8_t* allowed) const;

  std::vector<Kind> kinds_;
  std::vector<int> labels_;                       // ring label of each ring token, else -1
  std::vector<int8_t> orders_;                    // bond order of each bond token, else 0
  std::vector<Valence> atoms_;                    // valence of each atom token when it starts
  std::vector<uint8_t> aromatic_, takes_double_;  // of each atom token
  bool valences_;
};

}  // namespace labloop::generators
