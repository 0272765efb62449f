#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "problems.h"

namespace gradverify::testing {

Problem make_problem(std::vector<int64_t> layers, std::vector<Activation> activations, Loss loss, Dtype dtype,
                     const std::string& data, uint32_t seed) {
  Problem p;
  p.spec = MlpSpec{std::move(layers), std::move(activations), loss, dtype};
  if (data == "xor") set_xor_data(p);
  else set_random_data(p, std::stoll(data.substr(data.find(':') + 1)), seed);
  p.params = init_params(p.spec, Init::he, seed);
  validate_problem(p, "test problem");
  return p;
}

Problem lab_problem(uint32_t seed, Dtype dtype) {
  using A = Activation;
  return make_problem({2, 4, 3, 2, 1}, {A::relu, A::relu, A::relu, A::sigmoid}, Loss::mse, dtype, "xor", seed);
}

}  // namespace gradverify::testing
