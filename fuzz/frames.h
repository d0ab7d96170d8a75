// Several messages in one fuzz input. Each frame is the message's bytes with every backslash
// doubled, ended by a backslash and any other byte: the framing of libFuzzer's
// FuzzedDataProvider::ConsumeRandomLengthString, which byte mutations rarely break. The last
// frame may lack its end.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace geodatastore::fuzz {

std::vector<std::string> SplitFrames(std::string_view data);
std::string JoinFrames(const std::vector<std::string>& frames);

}  // namespace geodatastore::fuzz
