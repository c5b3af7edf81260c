;; WASI preview 1: loops forever (for timeouts and cancel).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
