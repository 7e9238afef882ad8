#include "generators/smiles_grammar.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include <GraphMol/PeriodicTable.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>

namespace labloop::generators {

namespace {

using Kind = SmilesGrammar::Kind;

bool IsOrganicAtom(const std::string& t) {
  static const char* const kAtoms[] = {"B", "C", "N", "O", "P", "S", "F", "Cl", "Br",
                                       "I", "b", "c", "n", "o", "p", "s", "*"};
  for (const char* a : kAtoms) {
    if (t == a) return true;
  }
  return false;
}

// Unlimited: '*' and elements outside the table.
constexpr int8_t kAnyRoom = 8;

}  // namespace

SmilesGrammar::Valence SmilesGrammar::AtomValence(const std::string& token) {
  // RDKit parses the atom (element, charge, bracket hydrogens, aromaticity) and its periodic
  // table gives the valences; a charged atom takes those of the isoelectronic element, as RDKit's
  // valence check does.
  std::unique_ptr<RDKit::RWMol> mol;
  try {
    mol.reset(RDKit::SmilesToMol(token, 0, /*sanitize=*/false));
  } catch (const std::exception&) {
  }
  if (!mol || mol->getNumAtoms() != 1) return {kAnyRoom, false};
  const RDKit::Atom* atom = mol->getAtomWithIdx(0);
  const int z = atom->getAtomicNum(), charge = atom->getFormalCharge();
  const int like = z - charge;
  if (z == 0 || like < 1 || like > 118) return {kAnyRoom, false};
  const auto& valences = RDKit::PeriodicTable::getTable()->getValenceList(like);
  const int largest = valences.empty() ? -1 : *std::max_element(valences.begin(), valences.end());
  if (largest < 0) return {kAnyRoom, false};  // -1: any valence
  // An aromatic carbon is written without its double bond; its Kekulé form needs one (a charged
  // one, C- or C+, does not).
  return {static_cast<int8_t>(largest - static_cast<int>(atom->getNumExplicitHs())),
          atom->getIsAromatic() && z == 6 && charge == 0};
}

std::vector<std::string> TokenizeSmiles(const std::string& smiles) {
  std::vector<std::string> tokens;
  for (size_t i = 0; i < smiles.size();) {
    size_t length = 1;
    if (smiles[i] == '[') {
      const size_t close = smiles.find(']', i);
      length = close == std::string::npos ? smiles.size() - i : close - i + 1;
    } else if (smiles.compare(i, 2, "Cl") == 0 || smiles.compare(i, 2, "Br") == 0) {
      length = 2;
    } else if (smiles[i] == '%' && i + 2 < smiles.size()) {
      length = 3;
    }
    tokens.push_back(smiles.substr(i, length));
    i += length;
  }
  return tokens;
}

SmilesGrammar::SmilesGrammar(const std::vector<std::string>& tokens, int64_t end,
                             const std::vector<int64_t>& never, bool valences)
    : kinds_(tokens.size(), Kind::kNever),
      labels_(tokens.size(), -1),
      orders_(tokens.size(), 0),
      atoms_(tokens.size()),
      valences_(valences) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.size() > 2 && t.front() == '[' && t.back() == ']') {
      kinds_[i] = Kind::kAtom;
    } else if (IsOrganicAtom(t)) {
      kinds_[i] = Kind::kAtom;
    } else if (t == "-" || t == "=" || t == "#" || t == ":" || t == "/" || t == "\\") {
      kinds_[i] = Kind::kBond;
      orders_[i] = t == "=" ? 2 : t == "#" ? 3 : 1;  // an aromatic ':' counts as one
    } else if (t == "(") {
      kinds_[i] = Kind::kOpen;
    } else if (t == ")") {
      kinds_[i] = Kind::kClose;
    } else if (t == ".") {
      kinds_[i] = Kind::kDot;
    } else if (t.size() == 1 && std::isdigit(static_cast<unsigned char>(t[0]))) {
      kinds_[i] = Kind::kRing;
      labels_[i] = t[0] - '0';
    } else if (t.size() == 3 && t[0] == '%' && std::isdigit(static_cast<unsigned char>(t[1])) &&
               std::isdigit(static_cast<unsigned char>(t[2]))) {
      kinds_[i] = Kind::kRing;
      labels_[i] = (t[1] - '0') * 10 + (t[2] - '0');
    }
    // Anything else (a token this grammar does not know) is never sampled.
  }
  kinds_.at(end) = Kind::kEnd;
  for (int64_t t : never) kinds_.at(t) = Kind::kNever;
  aromatic_.assign(tokens.size(), 0);
  takes_double_.assign(tokens.size(), 0);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (kinds_[i] != Kind::kAtom) continue;
    atoms_[i] = AtomValence(tokens[i]);
    // Aromatic: a lowercase symbol, alone or first in brackets after an isotope.
    const std::string& t = tokens[i];
    size_t at = t.front() == '[' ? 1 : 0;
    while (at < t.size() && std::isdigit(static_cast<unsigned char>(t[at]))) ++at;
    aromatic_[i] = at < t.size() && std::islower(static_cast<unsigned char>(t[at]));
    // Neutral aromatic O, S, Se, Te give the ring a lone pair and take no double bond.
    const bool donor =
        t == "o" || t == "s" || t == "[o]" || t == "[s]" || t == "[se]" || t == "[te]";
    takes_double_[i] = aromatic_[i] && !donor;
  }
}

namespace {

using Valence = SmilesGrammar::Valence;

// What an atom has left once its Kekulé double bond is set aside.
int Left(const Valence& v) { return v.room - (v.needs_double ? 1 : 0); }

// `v` once a bond of `order` is added to it; `counted` of that order counts against its room (all
// of it, or what a ring closure adds to what its opening reserved).
Valence Add(Valence v, int order, int counted) {
  v.room = static_cast<int8_t>(v.room - counted);
  if (order >= 2) v.needs_double = false;
  return v;
}
Valence Add(Valence v, int order) { return Add(v, order, order); }

// Two aromatic atoms with no bond written between them share an aromatic bond.
void AromaticBond(SmilesGrammar::State& s, int32_t a, int32_t b) {
  auto& x = s.bonds[a];
  auto& y = s.bonds[b];
  if (!x.aromatic_atom || !y.aromatic_atom) return;
  if (x.aromatic < 4) x.next[x.aromatic] = static_cast<int16_t>(b);
  if (y.aromatic < 4) y.next[y.aromatic] = static_cast<int16_t>(a);
  ++x.aromatic;
  ++y.aromatic;
}

}  // namespace

bool SmilesGrammar::IsAllowed(const State& s, int64_t token) const {
  return SyntaxAllows(s, token) &&
         (!valences_ || (ValenceAllows(s, token) && KekuleAllows(s, token)));
}

bool SmilesGrammar::ValenceAllows(const State& s, int64_t token) const {
  if (s.atom < 0) return true;  // the start: any atom
  // A move is refused when it overfills an atom, or when, with a ring still open, it leaves no
  // atom the chain can go on from: the current atom and the branch points it can return to
  // (the first `levels` of the stack, `atom` among them taking `adding` more) all full.
  auto stack_has_room = [&](size_t levels, int32_t atom, int adding) {
    for (size_t i = 0; i < levels; ++i) {
      const int32_t b = s.branch_from[i];
      if (Left(b == atom ? Add(s.valence[b], adding) : s.valence[b]) > 0) return true;
    }
    return false;
  };
  auto dead_end = [&](const Valence& v, int open_rings, bool stack_room) {
    return Left(v) < 0 || (open_rings > 0 && Left(v) == 0 && !stack_room);
  };
  const Valence& here = s.valence[s.atom];
  const int order = s.last == Kind::kBond ? s.bond : 1;
  const size_t levels = s.branch_from.size();
  switch (kinds_[token]) {
    case Kind::kAtom: {
      if (s.last == Kind::kDot) return Left(atoms_[token]) >= 0;
      // After a bond token, the bond was checked against the current atom when it was read (it
      // is added when this atom comes).
      if (s.last != Kind::kBond && Left(Add(here, 1)) < 0) return false;
      return !dead_end(Add(atoms_[token], order), s.open_rings,
                       stack_has_room(levels, s.atom, order));
    }
    case Kind::kBond:
      return Left(Add(here, orders_[token])) >= 0;
    case Kind::kOpen:
      return Left(Add(here, 1)) >= 0;
    case Kind::kClose:
      return levels == 0 || !dead_end(s.valence[s.branch_from.back()], s.open_rings,
                                      stack_has_room(levels - 1, -1, 0));
    case Kind::kRing: {
      const int label = labels_[token];
      const int32_t opener = s.ring[label] - 1;
      if (opener < 0) {
        return !dead_end(Add(here, order), s.open_rings + 1, stack_has_room(levels, -1, 0));
      }
      // Closing: the order written here, else the one written at the opening, else single.
      const int reserved = std::abs(s.ring_bond[label]);
      const bool written_there = s.ring_bond[label] < 0;
      if (s.last == Kind::kBond && written_there && s.bond != reserved) return false;
      const int bond = s.last == Kind::kBond ? s.bond : reserved;
      if (Left(Add(s.valence[opener], bond, bond - reserved)) < 0) return false;
      return !dead_end(Add(here, bond), s.open_rings - 1,
                       stack_has_room(levels, opener, bond - reserved));
    }
    default:
      return true;
  }
}

namespace {

// Whether the aromatic bonds of `s` have a Kekulé structure: a set of them made double, one at
// each atom that needs one and none at an atom that cannot take one. An atom is finished when no
// later token can bond to it: once `ended`, and when it has no ring or branch open on it and is
// not the current atom or is full. A finished atom needs a double bond when it takes them, has
// none yet and has room for one. An unfinished one may take one or not, if it will have room
// after the two ring bonds every aromatic atom ends up with. Backtracking, most constrained atom
// first; past `kBudget` steps (never seen in drug-like molecules) it gives up and allows.
bool HasKekuleStructure(const SmilesGrammar::State& s, bool ended) {
  constexpr int kBudget = 20000;
  const int n = static_cast<int>(s.bonds.size());
  if (n > 255) return true;
  std::array<uint8_t, 256> can{}, need{}, used{};
  for (int a = 0; a < n; ++a) {
    const auto& b = s.bonds[a];
    const bool finished = ended || (b.open == 0 && (a != s.atom || Left(s.valence[a]) <= 0));
    const int to_come = finished ? 0 : std::max(0, 2 - b.aromatic - b.rings);
    can[a] = b.takes_double && !b.doubled && s.valence[a].room - to_come >= 1;
    need[a] = can[a] && finished;
  }
  int budget = kBudget;
  auto search = [&](auto&& self) -> bool {
    if (--budget < 0) return true;
    // The unmatched atom that needs a double bond with the fewest free partners.
    int best = -1, best_free = 5;
    for (int a = 0; a < n; ++a) {
      if (!need[a] || used[a]) continue;
      int free = 0;
      const auto& b = s.bonds[a];
      for (int k = 0; k < std::min<int>(b.aromatic, 4); ++k) {
        free += can[b.next[k]] && !used[b.next[k]];
      }
      if (free < best_free) {
        best = a;
        best_free = free;
        if (free == 0) return false;
      }
    }
    if (best < 0) return true;
    const auto& b = s.bonds[best];
    used[best] = 1;
    for (int k = 0; k < std::min<int>(b.aromatic, 4); ++k) {
      const int other = b.next[k];
      if (!can[other] || used[other]) continue;
      used[other] = 1;
      if (self(self)) return true;
      used[other] = 0;
    }
    used[best] = 0;
    return false;
  };
  return search(search);
}

}  // namespace

bool SmilesGrammar::KekuleAllows(const State& s, int64_t token) const {
  if (s.atom < 0) return true;
  // Only a token that finishes, bonds or fills an aromatic atom that takes double bonds (the
  // current one, or the one a ring closure goes back to) can take a Kekulé structure away.
  const Kind kind = kinds_[token];
  const int32_t opener = kind == Kind::kRing ? s.ring[labels_[token]] - 1 : -1;
  if (!s.bonds[s.atom].takes_double && (opener < 0 || !s.bonds[opener].takes_double)) {
    return true;
  }
  State after = s;
  if (kind == Kind::kBond || kind == Kind::kOpen) {
    // The bond (or the branch's first bond, at least single) counts from now on.
    const int order = kind == Kind::kBond ? orders_[token] : 1;
    after.valence[s.atom] = Add(after.valence[s.atom], order);
    after.bonds[s.atom].doubled = after.bonds[s.atom].doubled || order >= 2;
  } else {
    Advance(after, token);
  }
  return HasKekuleStructure(after, kind == Kind::kEnd || kind == Kind::kDot);
}

int SmilesGrammar::KekuleClass(const State& s, int64_t token) const {
  // A new atom that can still take a double bond may be the partner the current atom needs
  // (HasKekuleStructure's test, for the atom as it joins).
  if (s.atom < 0) return 0;
  const int order = s.last == Kind::kBond ? s.bond : 1;
  const bool aromatic_bond = s.last != Kind::kBond && s.bonds[s.atom].aromatic_atom;
  const int to_come = aromatic_bond ? 1 : 2;
  return takes_double_[token] && order < 2 && Add(atoms_[token], order).room - to_come >= 1 ? 1 : 0;
}

bool SmilesGrammar::SyntaxAllows(const State& s, int64_t token) const {
  // After an atom, a ring label or ')' the chain may go on in every way; after a bond only an
  // atom or a ring label; after '(' an atom or a bond; at the start (or after '.') an atom.
  const bool after_atom = s.last == Kind::kAtom || s.last == Kind::kRing;
  const bool chain_end = after_atom || s.last == Kind::kClose;
  switch (kinds_[token]) {
    case Kind::kAtom:
      return true;
    case Kind::kBond:
      return chain_end || s.last == Kind::kOpen;
    case Kind::kOpen:
      return chain_end;
    case Kind::kClose:
      return chain_end && s.depth > 0;
    case Kind::kRing: {
      if (!after_atom && (s.last != Kind::kBond || s.bond_after_branch)) return false;
      const int32_t opener = s.ring[labels_[token]] - 1;
      if (opener < 0) return true;  // opens the ring
      // Closing: not onto the same atom, nor onto an atom it is already bonded to (in the chain
      // or by an earlier closure).
      if (opener == s.atom || opener == s.parent[s.atom] || s.parent[opener] == s.atom) {
        return false;
      }
      for (int32_t a : s.closed_here) {
        if (a == opener) return false;
      }
      return true;
    }
    case Kind::kDot:
    case Kind::kEnd:
      return chain_end && s.depth == 0 && s.open_rings == 0;
    case Kind::kNever:
      return false;
  }
  return false;
}

void SmilesGrammar::Allowed(const State& state, uint8_t* allowed, int wind_up_after) const {
  AllowedByRules(state, allowed);
  if (wind_up_after > 0 && state.tokens >= wind_up_after) WindUp(state, allowed);
}

void SmilesGrammar::WindUp(const State& state, uint8_t* allowed) const {
  const size_t v = kinds_.size();
  // Keeps what `keep` says yes to, when that is something.
  std::vector<uint8_t> kept(v);
  const auto narrow = [&](auto keep) {
    bool any = false;
    for (size_t t = 0; t < v; ++t) {
      kept[t] = allowed[t] && keep(kinds_[t], t);
      any = any || kept[t];
    }
    if (any) std::copy(kept.begin(), kept.end(), allowed);
    return any;
  };
  const auto closes_ring = [&](Kind k, size_t t) {
    return k == Kind::kRing && state.ring[labels_[t]] != 0;
  };
  if (narrow([](Kind k, size_t) { return k == Kind::kEnd; })) return;
  if (narrow([&](Kind k, size_t t) { return k == Kind::kClose || closes_ring(k, t); })) return;
  narrow([&](Kind k, size_t t) {
    return k != Kind::kOpen && k != Kind::kDot && (k != Kind::kRing || closes_ring(k, t));
  });
}

void SmilesGrammar::AllowedByRules(const State& state, uint8_t* allowed) const {
  const size_t v = kinds_.size();
  bool any = false;
  for (size_t t = 0; t < v; ++t) {
    allowed[t] = SyntaxAllows(state, static_cast<int64_t>(t)) &&
                 (!valences_ || ValenceAllows(state, static_cast<int64_t>(t)));
    any = any || allowed[t];
  }
  if (!valences_) return;
  if (!any) {  // the valence rules left nothing: the syntax rules alone
    for (size_t t = 0; t < v; ++t) allowed[t] = SyntaxAllows(state, static_cast<int64_t>(t));
    return;
  }
  // The Kekulé rule, on what the other rules allow; atom tokens of one class share a verdict.
  int8_t verdict[2] = {-1, -1};
  bool left = false;
  for (size_t t = 0; t < v; ++t) {
    if (!allowed[t]) continue;
    const auto token = static_cast<int64_t>(t);
    if (kinds_[t] == Kind::kAtom) {
      int8_t& known = verdict[KekuleClass(state, token)];
      if (known < 0) known = KekuleAllows(state, token) ? 1 : 0;
      allowed[t] = static_cast<uint8_t>(known);
    } else {
      allowed[t] = KekuleAllows(state, token);
    }
    left = left || allowed[t];
  }
  if (left) return;
  for (size_t t = 0; t < v; ++t) {  // it left nothing: the syntax and valence rules
    allowed[t] = SyntaxAllows(state, static_cast<int64_t>(t)) &&
                 ValenceAllows(state, static_cast<int64_t>(t));
  }
}

bool SmilesGrammar::LeadsOn(const State& state, int64_t token) const {
  if (!valences_ || kinds_[token] == Kind::kEnd) return true;  // the syntax rules never dead-end
  thread_local State after;  // assigned, not built: its vectors keep their capacity
  after = state;
  Advance(after, token);
  for (size_t t = 0; t < kinds_.size(); ++t) {
    if (IsAllowed(after, static_cast<int64_t>(t))) return true;
  }
  return false;
}

void SmilesGrammar::Advance(State& s, int64_t token) const {
  const Kind kind = kinds_[token];
  switch (kind) {
    case Kind::kAtom: {
      const int32_t atom = static_cast<int32_t>(s.parent.size());
      const bool bonded = s.last != Kind::kDot;
      s.parent.push_back(bonded ? s.atom : -1);
      if (valences_) {
        const int order = s.last == Kind::kBond ? s.bond : bonded ? 1 : 0;
        Bonds fresh;
        fresh.aromatic_atom = aromatic_[token];
        fresh.takes_double = takes_double_[token];
        fresh.doubled = order >= 2;
        s.valence.push_back(Add(atoms_[token], order));
        s.bonds.push_back(fresh);
        if (bonded) {
          s.valence[s.atom] = Add(s.valence[s.atom], order);
          s.bonds[s.atom].doubled = s.bonds[s.atom].doubled || order >= 2;
          if (s.last != Kind::kBond) AromaticBond(s, s.atom, atom);
        }
      }
      s.atom = atom;
      s.closed_here.clear();
      break;
    }
    case Kind::kOpen:
      s.branch_from.push_back(s.atom);
      if (valences_) ++s.bonds[s.atom].open;
      ++s.depth;
      break;
    case Kind::kClose:
      if (!s.branch_from.empty()) {
        s.atom = s.branch_from.back();
        s.branch_from.pop_back();
        if (valences_) --s.bonds[s.atom].open;
      }
      --s.depth;
      break;
    case Kind::kRing: {
      const int label = labels_[token];
      int32_t& opener = s.ring[label];
      const bool written = s.last == Kind::kBond;
      if (opener == 0) {
        opener = s.atom + 1;
        ++s.open_rings;
        if (valences_) {
          const int order = written ? s.bond : 1;
          s.valence[s.atom] = Add(s.valence[s.atom], order);
          s.ring_bond[label] = static_cast<int8_t>(written ? -order : order);
          ++s.bonds[s.atom].open;
          ++s.bonds[s.atom].rings;
          s.bonds[s.atom].doubled = s.bonds[s.atom].doubled || order >= 2;
        }
      } else {
        if (valences_) {
          const int reserved = std::abs(s.ring_bond[label]);
          const int order = written ? s.bond : reserved;
          s.valence[s.atom] = Add(s.valence[s.atom], order);
          Valence& there = s.valence[opener - 1];
          there = Add(there, order, order - reserved);
          Bonds& here = s.bonds[s.atom];
          Bonds& other = s.bonds[opener - 1];
          --other.open;
          --other.rings;
          here.doubled = here.doubled || order >= 2;
          other.doubled = other.doubled || order >= 2;
          if (!written && s.ring_bond[label] > 0) AromaticBond(s, s.atom, opener - 1);
          s.ring_bond[label] = 0;
        }
        s.closed_here.push_back(opener - 1);
        opener = 0;
        --s.open_rings;
      }
      break;
    }
    default:
      break;
  }
  s.bond_after_branch = kind == Kind::kBond && (s.last == Kind::kOpen || s.last == Kind::kClose);
  s.bond = kind == Kind::kBond ? orders_[token] : 0;
  s.last = kind;
  ++s.tokens;
}

}  // namespace labloop::generators
