#pragma once
// tangent train --resume: the flags a run was started with are stored in its checkpoint, and a resumed run must
// use the same ones. A flag given on the command line with a different value is an error naming every such
// difference, unless --override lists it; a flag left off takes the checkpoint's value.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nn/checkpoint.h"

namespace tangent::cli {

// A run's flags as text: name without the dashes ("lr") -> value ("0.002"); "" where a flag was not given and its
// default depends on other flags (--epochs of a language model with --tokens).
using RunFlags = std::map<std::string, std::string>;

// Stores `flags` in the checkpoint's metadata ("flag.<name>"), and reads them back (empty for a checkpoint written
// before flags were stored).
void store_run_flags(nn::Checkpoint& checkpoint, const RunFlags& flags);
RunFlags stored_run_flags(const nn::Checkpoint& checkpoint);

// The flags to resume with: `command_line` holds every flag's value (defaults included), `given` the names the
// user typed, `overrides` the names --override lists (each must be a known flag that the command line gives).
// A given flag whose value differs from the checkpoint's raises one error listing each difference, unless
// overridden; a flag not given takes the checkpoint's value; a flag the checkpoint lacks keeps the command line's.
RunFlags resume_flags(const RunFlags& checkpoint, const RunFlags& command_line, const std::set<std::string>& given,
                      const std::vector<std::string>& overrides);

// Flag values as text, and back (a malformed stored value raises, naming the flag). train.cpp's table of flags
// hands over the option fields, or these adaptors of them:
struct Inverted {  // a switch that clears its field (--untied clears tie_weights)
  bool& field;
};
struct MaybeGiven {  // a flag whose default depends on other flags: "" when not given
  int64_t& value;
  bool& given;
};
std::string flag_text(const std::string& v);
std::string flag_text(int64_t v);
std::string flag_text(uint64_t v);
std::string flag_text(double v);  // the shortest text that reads back as v
std::string flag_text(bool v);    // "true" or "false"
std::string flag_text(Inverted v);
std::string flag_text(MaybeGiven v);
void parse_flag(const std::string& name, const std::string& text, std::string& v);
void parse_flag(const std::string& name, const std::string& text, int64_t& v);
void parse_flag(const std::string& name, const std::string& text, uint64_t& v);
void parse_flag(const std::string& name, const std::string& text, double& v);
void parse_flag(const std::string& name, const std::string& text, bool& v);
void parse_flag(const std::string& name, const std::string& text, Inverted v);
void parse_flag(const std::string& name, const std::string& text, MaybeGiven v);

// "lr,seed" or "--lr,--seed" -> {"lr", "seed"}.
std::vector<std::string> parse_flag_names(const std::string& list);

}  // namespace tangent::cli
