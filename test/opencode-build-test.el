;;; opencode-build-test.el --- What make runs before the first screen  -*- lexical-binding: t; -*-

;;; Commentary:

;; `make run' and `make demo' compile first.  That must say what it
;; does and take seconds, not minutes: byte code now, native code
;; later (the Emacs that loads the byte code makes it in the
;; background).  Run in a scratch copy of the package, with a scratch
;; HOME, where native code would land.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)

(defun opencode-build-test--copy (root)
  "Copy the Makefile, lisp/ and module/ of the package into ROOT."
  (let ((top (file-name-directory (directory-file-name opencode-test-dir))))
    (copy-file (expand-file-name "Makefile" top) (expand-file-name "Makefile" root))
    (dolist (dir '("lisp" "module"))
      (make-directory (expand-file-name dir root))
      (dolist (f (directory-files (expand-file-name dir top) t "\\.\\(el\\|[ch]\\)\\'"))
        (copy-file f (expand-file-name (file-name-nondirectory f) (expand-file-name dir root)))))))

(ert-deftest opencode-build/compile-says-what-it-does-and-leaves-native-code-for-later ()
  "`make compile' from clean: each step named, byte code, no native code yet."
  (let* ((root (make-temp-file "opencode-build-" t))
         (home (expand-file-name "home" root))
         (process-environment (append (list (concat "HOME=" home) "MAKEFLAGS=" "MAKELEVEL=")
                                      process-environment)))
    (unwind-protect
        (progn
          (make-directory home)
          (opencode-build-test--copy root)
          (with-temp-buffer
            (should (eq 0 (call-process "make" nil t nil "-C" root "--no-print-directory" "compile")))
            (let ((out (buffer-string)))
              (should (string-match-p "^Building the module, module/opencode-module\\.so\\.\\.\\.$" out))
              (should (string-match-p (concat "^Byte-compiling the [0-9]+ files of lisp/ "
                                              "(native code comes later, in the background)\\.\\.\\.$")
                                      out))
              (should (string-match-p "^Byte-compiled\\.$" out))))
          (dolist (el (directory-files (expand-file-name "lisp" root) t "\\.el\\'"))
            (should (file-exists-p (concat el "c"))))
          ;; Emacs's own trampolines may be there, not the package's code.
          (should-not (directory-files-recursively home "\\`opencode.*\\.eln\\'")))
      (delete-directory root t))))

(provide 'opencode-build-test)
;;; opencode-build-test.el ends here
