"""Model families several recipes share: the recurrent language model (charlm and the
analysis tools), the memory-task model (adding, copy), encoder-decoder seq2seq
(translate, chat) and pretrained word vectors as a first layer. Recipes import these;
a family never imports a recipe."""
